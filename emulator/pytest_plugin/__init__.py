"""pytest plugin: emulator fixtures, registered through the `pytest11` entry point.

This module holds the hooks (ini option, markers, scenario files as tests, unhandled emulator errors failing
the test); the fixtures live in the modules of `FIXTURE_MODULES`, one for the core and one or more per provider.
The names users import (`from emulator.pytest_plugin import SunshineApp`) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import (
    core,
    liveperson,
    liveperson_connector,
    liveperson_connector_app,
    liveperson_consumers,
    liveperson_conversations,
    liveperson_login,
    liveperson_routing,
    mindbehind,
    proxy,
    scenarios,
    sunshine,
    sunshine_sdk,
    sunshine_switchboard,
    sunshine_webhooks,
    webhooks,
)
from .core import FAULT_MARKER, TIME_MARKER, EmulatorHandle, MarkerSetup, emulator_namespace, fail_on_unhandled_errors
from .liveperson import ACCOUNT_MARKER, LivePersonAccount, fresh_numeric_id
from .liveperson_connector import LivePersonAppJwt, LivePersonConsumerJws, issue_lp_app_jwt, lp_app_installation
from .liveperson_connector_app import LivePersonConnectorApp
from .liveperson_consumers import AuthenticatedConsumer, BrandIdp
from .liveperson_conversations import LivePersonConsumer, LivePersonConversation, SteppedUpConversation
from .liveperson_login import LivePersonAgentSession, add_lp_user, lp_login
from .liveperson_routing import LivePersonRoutingAgent
from .mindbehind import MindbehindChannel, MindbehindCode, MindbehindToken
from .replies import created_body, expect_token
from .scenarios import SCENARIO_FOLDERS, SCENARIO_MARKER, ScenarioFile, ScenarioPlayer
from .sunshine import SunshineApp, SunshineConversation, SunshineUser
from .sunshine_sdk import SunshineSdkUser
from .sunshine_switchboard import SunshineSwitchboard, SwitchboardMember
from .sunshine_webhooks import SunshineWebhookEvents
from .webhooks import ReceivedRequest, WebhookReceiver

__all__ = [
    "EmulatorHandle",
    "MarkerSetup",
    "emulator_namespace",
    "LivePersonAccount",
    "LivePersonAgentSession",
    "LivePersonAppJwt",
    "LivePersonConsumerJws",
    "LivePersonConnectorApp",
    "AuthenticatedConsumer",
    "BrandIdp",
    "LivePersonConsumer",
    "LivePersonConversation",
    "SteppedUpConversation",
    "LivePersonRoutingAgent",
    "add_lp_user",
    "fresh_numeric_id",
    "issue_lp_app_jwt",
    "lp_app_installation",
    "lp_login",
    "MindbehindChannel",
    "MindbehindCode",
    "MindbehindToken",
    "SunshineApp",
    "SunshineConversation",
    "SunshineSdkUser",
    "SunshineUser",
    "SunshineSwitchboard",
    "SwitchboardMember",
    "SunshineWebhookEvents",
    "ReceivedRequest",
    "WebhookReceiver",
    "ScenarioPlayer",
    "created_body",
    "expect_token",
]

# the fixture modules, each registered as a plugin of its own by `pytest_configure` (as `pytest_plugins` would
# register them, but without looking each name up among the entry points of every installed distribution first:
# pytest does that for each name of `pytest_plugins`, about 6 ms apiece here)
FIXTURE_MODULES = (
    core,
    scenarios,
    proxy,
    webhooks,
    liveperson,
    liveperson_login,
    liveperson_connector,
    liveperson_connector_app,
    liveperson_consumers,
    liveperson_conversations,
    liveperson_routing,
    sunshine,
    sunshine_sdk,
    sunshine_switchboard,
    sunshine_webhooks,
    mindbehind,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        SCENARIO_FOLDERS, "folders whose *.yaml scenario files are collected as tests", type="paths", default=[]
    )


def pytest_configure(config: pytest.Config) -> None:
    for module in FIXTURE_MODULES:
        if config.pluginmanager.get_plugin(module.__name__) is None:
            config.pluginmanager.register(module, module.__name__)
    config.addinivalue_line(
        "markers", f"{TIME_MARKER}(when): start the test's emulator clock frozen at an ISO 8601 time"
    )
    config.addinivalue_line(
        "markers", f"{FAULT_MARKER}(kind, **rule): a fault rule in the test's namespace from the start (repeatable)"
    )
    config.addinivalue_line(
        "markers", f"{ACCOUNT_MARKER}(**fields): seed fields (features, settings, ...) of the lp_account fixture"
    )
    config.addinivalue_line(
        "markers", f"{SCENARIO_MARKER}(path, **vars): run a scenario file in the test's namespace before the test"
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file under a configured folder is one test item."""
    folders = parent.config.getini(SCENARIO_FOLDERS)
    if file_path.suffix in (".yaml", ".yml") and any(file_path.is_relative_to(folder) for folder in folders):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """A test that passed although the emulator raised an unhandled exception in its namespace fails, with the
    server-side traceback (a test that failed anyway gets it at teardown, after its own failure)."""
    outcome = yield
    funcargs = getattr(item, "funcargs", {})
    handle = funcargs.get("_emulator_test_namespace")
    if handle is not None:
        fail_on_unhandled_errors(funcargs["emulator_app"], handle.namespace)
    return outcome
