"""pytest fixture for Sunshine's switchboard: a bot and an agent desk, two custom integrations of the app whose
webhooks post to the test's webhook receiver, linked into an enabled switchboard with the bot as its default
(`sunshine_switchboard`). Registered by emulator.pytest_plugin."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from ..client import Reply
from .replies import created_body
from .sunshine import SunshineApp
from .webhooks import WebhookReceiver


@dataclass(frozen=True)
class SwitchboardMember:
    """One side of the switchboard: its custom integration, that integration's webhook (posting to the
    receiver at `path`), and its switchboard integration."""

    name: str  # the switchboard integration's name, usable as a passControl / offerControl target
    integration_id: str
    webhook_id: str
    path: str
    switchboard_integration_id: str


@dataclass(frozen=True)
class SunshineSwitchboard:
    """An enabled switchboard of `app`: `bot` (the default, so active in every new conversation) and `desk`,
    each the other's `next`, neither getting standby events; both webhooks subscribe to every trigger."""

    app: SunshineApp
    id: str
    bot: SwitchboardMember
    desk: SwitchboardMember
    receiver: WebhookReceiver

    def events(self, member: SwitchboardMember, event_type: str | None = None) -> list[dict]:
        """The events `member`'s webhook received so far (flush the deliveries first), optionally of one type."""
        bodies = [r.body for r in self.receiver.deliveries if r.path == member.path and isinstance(r.body, dict)]
        return [
            e for body in bodies for e in body.get("events") or [] if event_type is None or e.get("type") == event_type
        ]

    def act(self, conversation_id: str, action: str, **body: object) -> Reply:
        """POST `.../conversations/{id}/{action}` (passControl, offerControl, acceptControl, releaseControl)."""
        return self.app.request("POST", f"conversations/{conversation_id}/{action}", json=body)


def _member(app: SunshineApp, receiver: WebhookReceiver, switchboard_id: str, name: str) -> SwitchboardMember:
    target = f"{receiver.url}/{name}"
    body = {"type": "custom", "displayName": name, "webhooks": [{"target": target, "triggers": ["*"]}]}
    integration = created_body(app.request("POST", "integrations", json=body), "integration")
    linked = {"name": name, "integrationId": integration["id"], "deliverStandbyEvents": False}
    member = created_body(
        app.request("POST", f"switchboards/{switchboard_id}/switchboardIntegrations", json=linked),
        "switchboardIntegration",
    )
    return SwitchboardMember(
        name, integration["id"], integration["webhooks"][0]["id"], urlsplit(target).path, member["id"]
    )


def _patched(reply: Reply, wrapper: str) -> dict:
    if reply.status != 200:
        raise AssertionError(f"the emulator refused to update a {wrapper}: {reply.status} {reply.text}")
    return reply.json()[wrapper]


@pytest.fixture
def sunshine_switchboard(sunshine_app: SunshineApp, emulator_webhook_receiver: WebhookReceiver) -> SunshineSwitchboard:
    """A bot and an agent desk in an enabled switchboard of `sunshine_app`, the bot the default (active in
    every new conversation), webhooks posting to `emulator_webhook_receiver` at `/webhook/bot` and `/webhook/agent-desk`."""
    switchboard_id = created_body(sunshine_app.request("POST", "switchboards"), "switchboard")["id"]
    bot = _member(sunshine_app, emulator_webhook_receiver, switchboard_id, "bot")
    desk = _member(sunshine_app, emulator_webhook_receiver, switchboard_id, "agent-desk")
    for member, after in ((bot, desk), (desk, bot)):
        path = f"switchboards/{switchboard_id}/switchboardIntegrations/{member.switchboard_integration_id}"
        _patched(
            sunshine_app.request(
                "PATCH", path, json={"nextSwitchboardIntegrationId": after.switchboard_integration_id}
            ),
            "switchboardIntegration",
        )
    enabled = {"enabled": True, "defaultSwitchboardIntegrationId": bot.switchboard_integration_id}
    _patched(sunshine_app.request("PATCH", f"switchboards/{switchboard_id}", json=enabled), "switchboard")
    return SunshineSwitchboard(sunshine_app, switchboard_id, bot, desk, emulator_webhook_receiver)
