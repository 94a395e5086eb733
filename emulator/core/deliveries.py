"""Outgoing webhook deliveries of one namespace, with retries scheduled on the namespace's clock.

A delivery is attempted at once when it is queued; a failed attempt (connection error, timeout, or a
status outside 2xx) is retried at the times of RETRY_SCHEDULE, counted on the emulated clock. Retries
that have come due run whenever the outbox is pumped: on a clock move, a new delivery, or an explicit
flush. Provider-neutral: a provider only says where to POST what.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import requests

RETRY_SCHEDULE = (30.0, 120.0, 600.0, 3600.0)  # [I] seconds after each failed attempt; then the delivery fails
ATTEMPT_TIMEOUT = 5.0  # seconds of wall time a receiver gets to answer one attempt
HISTORY_LIMIT = 1_000  # deliveries kept per namespace, delivered and failed ones first to go


@dataclass
class Attempt:
    at: float  # emulated time
    status: int  # 0: no HTTP answer
    error: str = ""


@dataclass
class Delivery:
    id: str
    kind: str  # e.g. "mindbehind.send", "mindbehind.handover"
    url: str
    payload: dict
    state: str = "pending"  # pending | delivered | failed
    next_attempt_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


Poster = Callable[[str, dict], int]  # POST json to url -> status; raises requests.RequestException


def post_json(url: str, payload: dict) -> int:
    return requests.post(url, json=payload, timeout=ATTEMPT_TIMEOUT).status_code


class Outbox:
    def __init__(self, poster: Poster = post_json) -> None:
        self._deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._poster = poster

    def queue(self, kind: str, url: str, payload: dict, now: float) -> Delivery:
        """Add a delivery due now; the caller pumps the outbox to attempt it."""
        with self._lock:
            delivery = Delivery(f"delivery-{next(self._ids)}", kind, url, payload, next_attempt_at=now)
            self._deliveries.append(delivery)
            self._trim()
            return delivery

    def pump(self, now: float, record: Callable[[Delivery, Attempt], None]) -> list[Delivery]:
        """Attempt every delivery due at `now` (outside the lock: receivers may call the emulator back)."""
        with self._lock:
            due = [d for d in self._deliveries if d.state == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now]
            for delivery in due:
                delivery.next_attempt_at = None  # taken: a concurrent pump does not attempt it twice
        for delivery in due:
            attempt = self._attempt(delivery, now)
            with self._lock:
                delivery.attempts.append(attempt)
                if 200 <= attempt.status < 300:
                    delivery.state = "delivered"
                elif len(delivery.attempts) > len(RETRY_SCHEDULE):
                    delivery.state = "failed"
                else:
                    delivery.next_attempt_at = now + RETRY_SCHEDULE[len(delivery.attempts) - 1]
            record(delivery, attempt)
        return due

    def _attempt(self, delivery: Delivery, now: float) -> Attempt:
        try:
            return Attempt(now, self._poster(delivery.url, delivery.payload))
        except (requests.RequestException, ValueError) as exc:  # ValueError: a URL urllib3 cannot parse
            return Attempt(now, 0, type(exc).__name__)

    def list(self) -> list[dict]:
        with self._lock:
            return [delivery.to_dict() for delivery in self._deliveries]

    def _trim(self) -> None:
        while len(self._deliveries) > HISTORY_LIMIT:
            done = next((d for d in self._deliveries if d.state != "pending"), self._deliveries[0])
            self._deliveries.remove(done)
