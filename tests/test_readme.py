"""The README's example test and the user guide's examples run as a downstream user would run them."""

import re
from pathlib import Path

import yaml

from emulator.app import create_app
from emulator.client import AppTransport
from emulator.config import parse_seed
from emulator.scenarios import ScenarioRunner, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide"


def test_the_readme_example_passes(pytester):
    example = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    pytester.makepyfile(test_example="\n".join(line.removeprefix("   ") for line in example.splitlines()))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_guides_interception_examples_pass(pytester):
    section = (GUIDE / "interception.md").read_text()
    pytester.makepyfile(test_clients=re.search(r"```python\n(.*?)```", section, re.S).group(1))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_the_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert f"```sh\n{command}\n```" in README.read_text()


def test_the_guides_scenario_example_passes():
    section = (GUIDE / "scenarios.md").read_text()
    document = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    result = ScenarioRunner(AppTransport(create_app())).run(parse_scenario(document, "README.md"))
    assert result.ok, result.report()
    assert result.variables["sunshine_jwt"].count(".") == 2


def test_the_guides_seed_example_is_a_valid_seed():
    section = (GUIDE / "seed-files.md").read_text()
    seed = parse_seed(yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1)))
    assert sorted(seed.parts()) == ["liveperson", "sunshine"]
