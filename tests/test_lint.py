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


def test_ruff_check_is_clean_on_the_whole_repository():
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, report(result)
    # a malformed suppression comment is only a warning, yet it suppresses nothing
    assert "warning" not in result.stderr, report(result)


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
