"""One authorised API call: the state it acts on, its clock, and the webhook events it gives rise to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from ...core.clock import format_instant
from .auth import Principal
from .models import App, SunshineState, new_id

API_SOURCE = {"type": "api:conversations"}  # [C] the source of what the v2 API does


@dataclass
class Call:
    state: SunshineState
    app: App | None  # None on routes that name no app (`/v2/apps`)
    principal: Principal
    now: float
    locate: Callable[[], str]  # the request's URL without its query (`url`), made when a call asks for it
    events: list[dict] = field(default_factory=list)
    source: dict = field(default_factory=lambda: dict(API_SOURCE))  # where what the call does comes from

    @cached_property
    def url(self) -> str:
        """The request's URL without its query, for pagination links."""
        return self.locate()

    @property
    def timestamp(self) -> str:
        return format_instant(self.now)

    def in_app(self) -> App:
        """The app of an app route (never None there: the route's app was authorised)."""
        assert self.app is not None, "an app route without an app"
        return self.app

    def emit(self, event_type: str, payload: dict) -> None:
        """Record an event the provider would announce by webhook; published once the call succeeds."""
        self.events.append({"id": new_id(), "type": event_type, "createdAt": self.timestamp, "payload": payload})
