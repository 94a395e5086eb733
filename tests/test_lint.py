"""Lint, format and types, run from the test suite so that CI (the README's test command) runs them.

`ruff check` covers the whole repository and `mypy` the whole package. `ruff format --check` covers the paths
below, those that are clean today; the list is widened to the whole repository once the formatter has run over it.
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

MYPY_SUMMARY = re.compile(r"Success: no issues found in (?P<checked>\d+) source files?")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` with the suite's own interpreter, from the repository root."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_the_listed_paths_exist():
    """A path that moved would be checked by nothing: the lists follow the tree."""
    missing = [path for path in FORMATTED if not (ROOT / path).exists()]
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


def test_mypy_finds_no_error_in_the_package():
    """mypy as configured, over every module of the package: a module it did not check would prove nothing."""
    result = run("mypy")
    found = MYPY_SUMMARY.search(result.stdout)
    assert result.returncode == 0 and found, report(result)
    modules = list((ROOT / "emulator").rglob("*.py"))  # mypy counts data folders as namespace packages too
    assert int(found["checked"]) >= len(modules), report(result)
