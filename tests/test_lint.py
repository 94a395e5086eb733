"""Lint, format and types, run from the test suite so that CI (the README's test command) runs them.

`ruff check` covers the whole repository. `ruff format --check` and `mypy` cover the paths below, those that
are clean today; the lead widens both lists to the whole package once the formatter has run over it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Formatted as `ruff format` would: widened to the whole repository after the formatting pass.
FORMATTED = [
    "emulator/control/__init__.py",
    "emulator/control/dashboard.py",
    "emulator/control/faults.py",
    "emulator/control/guesses.py",
    "emulator/control/record.py",
    "emulator/control/routes.py",
    "emulator/core/__init__.py",
    "emulator/core/clock.py",
    "emulator/core/store.py",
    "emulator/core/validation.py",
    "emulator/web/fault_injection.py",
    "emulator/interception/__init__.py",
    "emulator/interception/forward.py",
    "emulator/interception/guard.py",
    "emulator/interception/via_httpx.py",
    "emulator/pytest_plugin/lazy.py",
    "emulator/web/raw_path.py",
    "emulator/web/request_log.py",
    "emulator/scenarios/model.py",
    "emulator/serving/serialized_socket.py",
    "emulator/web/__init__.py",
    "tests/test_house_rules.py",
    "tests/test_lint.py",
]

# Free of mypy errors: widened to the whole package (`mypy` as configured) once every module is.
TYPED = [
    "emulator/__init__.py",
    "emulator/__main__.py",
    "emulator/client.py",
    "emulator/control/",
    "emulator/core/",
    "emulator/web/fault_injection.py",
    "emulator/interception/__init__.py",
    "emulator/interception/forward.py",
    "emulator/interception/guard.py",
    "emulator/interception/via_aiohttp.py",
    "emulator/interception/via_httpx.py",
    "emulator/interception/via_requests.py",
    "emulator/interception/via_urllib3.py",
    "emulator/pytest_plugin/lazy.py",
    "emulator/serving/persistence.py",
    "emulator/serving/proxy.py",
    "emulator/web/raw_path.py",
    "emulator/web/request_log.py",
    "emulator/scenarios/__init__.py",
    "emulator/scenarios/junit.py",
    "emulator/scenarios/model.py",
    "emulator/scenarios/runner.py",
    "emulator/scenarios/values.py",
    "emulator/serving/serialized_socket.py",
    "emulator/serving/server.py",
    "emulator/serving/tls.py",
    "emulator/web/__init__.py",
]

MYPY_FINDING = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ", re.MULTILINE)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` with the suite's own interpreter, from the repository root."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def is_typed(file: str) -> bool:
    """`file` is listed in TYPED, itself or under a listed folder (a path ending in `/`)."""
    return any(file == path or (path.endswith("/") and file.startswith(path)) for path in TYPED)


def test_the_listed_paths_exist():
    """A path that moved would be checked by nothing: the lists follow the tree."""
    missing = [path for path in FORMATTED + TYPED if not (ROOT / path).exists()]
    assert not missing, f"listed but not in the tree: {missing}"


def test_ruff_check_is_clean_on_the_whole_repository():
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, report(result)
    # a malformed suppression comment is only a warning, yet it suppresses nothing
    assert "warning" not in result.stderr, report(result)


@pytest.mark.parametrize("path", FORMATTED)
def test_ruff_format_leaves_the_path_unchanged(path: str):
    result = run("ruff", "format", "--no-cache", "--diff", path)
    assert result.returncode == 0, report(result)


def test_mypy_finds_no_error_in_the_typed_paths():
    """One mypy run over the configured package (one run: parallel runs would share its cache), read per path."""
    result = run("mypy")
    output = report(result)
    # without a summary line mypy did not run, and finding no error below would prove nothing
    assert re.search(
        r"(Success: no issues found|Found \d+ errors? in \d+ files?) \(checked \d+ source files\)", output
    ), output
    errors = [
        line for line in result.stdout.splitlines() if (found := MYPY_FINDING.match(line)) and is_typed(found["path"])
    ]
    assert not errors, "\n".join(errors)
