"""The documentation site builds strictly, and the tutorials' code runs as a downstream user would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.app import create_app
from emulator.client import AppTransport
from emulator.scenarios import ScenarioRunner, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
NAMED_BLOCK = re.compile(r"```(python|yaml)\n# (?:scenario: )?([\w.]+)\n(.*?)```", re.S)


def named_blocks(page: Path, language: str) -> dict[str, str]:
    """The page's code blocks of `language` whose first line is a file name comment, by that name."""
    return {name: code for lang, name, code in NAMED_BLOCK.findall(page.read_text()) if lang == language}


def test_the_site_builds_without_a_warning(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    routes = (tmp_path / "reference" / "routes.html").read_text()
    assert "/api/account/&lt;account_id&gt;/anonymous/authorize" in routes
    assert "/__emulator/clock" in routes
    assert "expired_ext_jwt" in (tmp_path / "reference" / "fixtures.html").read_text()
    assert {page.stem for page in TUTORIALS} <= {path.stem for path in (tmp_path / "tutorials").glob("*.html")}


@pytest.mark.parametrize(
    "page", [page for page in TUTORIALS if named_blocks(page, "python")], ids=lambda page: page.stem
)
def test_a_tutorials_tests_pass(page, pytester):
    files = named_blocks(page, "python")
    conftest = files.pop("conftest.py", None)
    if conftest:
        pytester.makeconftest(conftest)
    pytester.makepyfile(**{name.removesuffix(".py"): code for name, code in files.items()})
    tests = sum(code.count("\ndef test_") + code.startswith("def test_") for code in files.values())
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=tests)


@pytest.mark.parametrize("page", [page for page in TUTORIALS if named_blocks(page, "yaml")], ids=lambda page: page.stem)
def test_a_tutorials_scenarios_hold(page):
    for name, code in named_blocks(page, "yaml").items():
        result = ScenarioRunner(AppTransport(create_app())).run(parse_scenario(yaml.safe_load(code), name))
        assert result.ok, result.report()
