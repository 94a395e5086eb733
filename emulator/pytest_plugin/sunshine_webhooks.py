"""pytest fixture `sunshine_webhook_events`: every webhook event of the test's Sunshine app, collected by a
local receiver and read by trigger. Registered by emulator.pytest_plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .core import EmulatorHandle
from .sunshine import SunshineApp
from .webhooks import WebhookReceiver


class SunshineWebhookEvents:
    """The events delivered to a webhook of `app` subscribed to every trigger (`*`).

    - `wait_for(trigger, count=1)`: once every due delivery was attempted, the events of that trigger
      (at least `count` of them, else the test fails, naming what did arrive); `trigger` may be `*`.
    - `payloads(trigger)`: their payloads; `events(trigger=None)`: what arrived so far, without waiting.
    - `webhook`: the webhook as the API answered it (`id`, `secret`, ...); `receiver`: the WebhookReceiver.
    - `clear()`: forget every event raised so far.
    """

    def __init__(self, app: SunshineApp, backend: EmulatorHandle, receiver: WebhookReceiver, **flags: bool) -> None:
        self.app, self.backend, self.receiver = app, backend, receiver
        self.webhook = receiver.sunshine_webhook(app, ["*"], **flags)

    def events(self, trigger: str | None = None) -> list[dict]:
        return [e for e in self.receiver.events() if trigger in (None, "*", e.get("type"))]

    def wait_for(self, trigger: str, count: int = 1) -> list[dict]:
        """Deliveries go out in the background: a flush waits for every attempt, never for a fixed time."""
        self.backend.control.flush_deliveries()
        found = self.events(trigger)
        if len(found) < count:
            arrived = [e.get("type") for e in self.events()]
            raise AssertionError(f"{len(found)} {trigger} event(s) delivered, not {count}; delivered: {arrived}")
        return found

    def payloads(self, trigger: str, count: int = 1) -> list[dict]:
        return [e["payload"] for e in self.wait_for(trigger, count)]

    def clear(self) -> None:
        """Forget every event raised so far (deliveries under way are waited for first)."""
        self.backend.control.flush_deliveries()
        self.receiver.clear()


@pytest.fixture
def sunshine_webhook_events(
    sunshine_app: SunshineApp, emulator_backend: EmulatorHandle
) -> Iterator[SunshineWebhookEvents]:
    """A webhook of `sunshine_app` on every trigger and what it receives (see SunshineWebhookEvents):
    `.wait_for(trigger, count)`, `.payloads(trigger)`, `.events()`, `.clear()`."""
    receiver = WebhookReceiver()
    try:
        yield SunshineWebhookEvents(sunshine_app, emulator_backend, receiver)
    finally:
        receiver.close()
