"""Every fixture the plugin registers has a name a user's own fixture will not take by chance: it starts with
`emulator` or a provider's prefix, or it is one of the names the user-facing contract fixes. A user's fixture
of the same name would silently replace the plugin's, for the user and for every plugin fixture built on it."""

from __future__ import annotations

import re

import pytest

CONTRACT_NAMES = {"expired_ext_jwt", "stepped_up_conversation"}  # named by the design's user-facing contract
PREFIXES = (
    "emulator",
    "_emulator",
    "lp_",
    "sunshine_",
    "mindbehind_",
    "expired_lp_",
    "expired_sunshine_",
    "expired_mindbehind_",
)
LISTED = re.compile(r"^(\w+)(?: \[\w+ scope\])? -- .*emulator[/\\]pytest_plugin[/\\]\w+\.py:\d+$")


def plugin_fixtures(pytester: pytest.Pytester) -> set[str]:
    """The fixtures `pytest --fixtures -v` lists from the plugin's modules, in an empty project."""
    result = pytester.runpytest("--fixtures", "-v", "-p", "no:cacheprovider")
    return {match[1] for line in result.outlines if (match := LISTED.match(line))}


def test_every_plugin_fixture_name_is_prefixed_or_in_the_contract(pytester: pytest.Pytester) -> None:
    names = plugin_fixtures(pytester)
    assert {"emulator", "emulator_server", "lp_account", "sunshine_app", "mindbehind_channel"} | CONTRACT_NAMES <= names
    assert sorted(name for name in names if name not in CONTRACT_NAMES and not name.startswith(PREFIXES)) == []
