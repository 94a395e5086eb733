"""Lint, format and types, run from the test suite so that CI (the README's test command) runs them.

`ruff check` and `ruff format` cover the whole repository (Python files and the Python blocks of the docs),
`mypy` the whole package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MYPY_SUMMARY = re.compile(r"Success: no issues found in (?P<checked>\d+) source files?")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` with the suite's own interpreter, from the repository root."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


INVALID_NOQA = re.compile(r"^warning: Invalid `# noqa` directive on (?P<path>[^:]+):(?P<line>\d+): ", re.MULTILINE)
SLEEP_MARK = "# noqa: sleep-ok"  # the house's mark of a deliberate sleep in a test, not a ruff code


def unexpected_warnings(stderr: str, root: Path = ROOT) -> list[str]:
    """ruff's warnings, but for the invalid-`noqa` ones on lines that carry the sleep mark (it suppresses nothing
    and is meant to); any other malformed suppression comment is only a warning, yet suppresses nothing."""
    marked = {
        found.group(0)
        for found in INVALID_NOQA.finditer(stderr)
        if SLEEP_MARK in (root / found["path"]).read_text().splitlines()[int(found["line"]) - 1]
    }
    return [line for line in stderr.splitlines() if line.startswith("warning") and not line.startswith(tuple(marked))]


def test_ruff_check_is_clean_on_the_whole_repository():
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, report(result)
    assert unexpected_warnings(result.stderr) == [], report(result)


def test_only_the_sleep_mark_may_look_like_an_invalid_noqa(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import time\n\ntime.sleep(1)  # noqa: sleep-ok: a reason\nx = 1  # noqa: not-a-code\n")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", probe.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    warnings = INVALID_NOQA.findall(result.stderr)
    assert len(warnings) == 2, report(result)
    [left] = unexpected_warnings(result.stderr, tmp_path)
    assert "probe.py:4:" in left  # the sleep mark on line 3 is let through, the other one is not


def test_ruff_format_leaves_the_repository_unchanged():
    result = run("ruff", "format", "--no-cache", "--diff", ".")
    assert result.returncode == 0, report(result)


def test_mypy_finds_no_error_in_the_package():
    """mypy as configured, over every module of the package: a module it did not check would prove nothing."""
    result = run("mypy")
    found = MYPY_SUMMARY.search(result.stdout)
    assert result.returncode == 0 and found, report(result)
    modules = list((ROOT / "emulator").rglob("*.py"))  # mypy counts data folders as namespace packages too
    assert int(found["checked"]) >= len(modules), report(result)
