"""Outgoing webhook deliveries of one namespace, with retries scheduled on the namespace's clock.

A delivery is attempted when the outbox is pumped after it is queued; a failed attempt (connection error,
timeout, or a status outside 2xx) is retried at the times of its policy's retry schedule, counted on the
emulated clock, unless the status is one its policy never retries. Retries that have come due run whenever
the outbox is pumped: on a clock move, a new delivery, or an explicit flush. While the outbox is held,
nothing is attempted. Provider-neutral: a provider only says where to POST what, and how (DeliveryPolicy).

A policy's deliveries are attempted in the pumping thread, or, with `background`, on worker threads (one
per target URL, so that one target sees its deliveries in order): the request that queued them does not
wait for the receiver. `wait_idle` waits for those attempts, so a flush is synchronous for its caller.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

RETRY_SCHEDULE = (30.0, 120.0, 600.0, 3600.0)  # [I] seconds after each failed attempt; then the delivery fails
ATTEMPT_TIMEOUT = 5.0  # seconds of wall time a receiver gets to answer one attempt
HISTORY_LIMIT = 1_000  # deliveries kept per namespace, delivered and failed ones first to go


@dataclass(frozen=True)
class DeliveryPolicy:
    """How one delivery is made: its retries, its timeout, the answers it never retries, extra headers.

    None for `retry_schedule` or `timeout` reads RETRY_SCHEDULE or ATTEMPT_TIMEOUT when they are needed.
    """

    retry_schedule: tuple[float, ...] | None = None  # seconds after each failed attempt; then it fails
    timeout: float | None = None  # seconds of wall time per attempt; a timeout is a failed attempt
    final_statuses: frozenset[int] = frozenset()  # answers that fail the delivery at once (no retry)
    headers: Mapping[str, str] = field(default_factory=dict)  # sent with every attempt
    background: bool = False  # attempted on a worker thread, not in the thread that pumps
    success_statuses: frozenset[int] | None = None  # answers that deliver; None: any 2xx

    def schedule(self) -> tuple[float, ...]:
        return RETRY_SCHEDULE if self.retry_schedule is None else self.retry_schedule

    def attempt_timeout(self) -> float:
        return ATTEMPT_TIMEOUT if self.timeout is None else self.timeout

    def delivered(self, status: int) -> bool:
        return 200 <= status < 300 if self.success_statuses is None else status in self.success_statuses


DEFAULT_POLICY = DeliveryPolicy()


@dataclass
class Attempt:
    at: float  # emulated time
    status: int  # 0: no HTTP answer
    error: str = ""


@dataclass
class Delivery:
    id: str
    kind: str  # e.g. "mindbehind.send", "mindbehind.handover", "sunshine.webhook"
    url: str
    payload: dict
    state: str = "pending"  # pending | delivered | failed
    next_attempt_at: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    policy: DeliveryPolicy = DEFAULT_POLICY
    body: bytes | None = None  # the exact bytes to POST (e.g. signed ones); None: `payload` as JSON

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "payload": self.payload,
            "state": self.state,
            "next_attempt_at": self.next_attempt_at,
            "attempts": [asdict(attempt) for attempt in self.attempts],
            "headers": dict(self.policy.headers),
        }


# POST a payload (JSON, or the exact bytes given) to url with extra headers and a timeout -> status;
# raises requests.RequestException
Poster = Callable[[str, "dict | bytes", Mapping[str, str], float], int]
Recorder = Callable[[Delivery, Attempt], None]


def post_json(url: str, payload: dict | bytes, headers: Mapping[str, str], timeout: float) -> int:
    import requests  # on the first delivery: start-up does not pay for it

    if isinstance(payload, bytes):
        return requests.post(url, data=payload, headers=dict(headers) or None, timeout=timeout).status_code
    return requests.post(url, json=payload, headers=dict(headers) or None, timeout=timeout).status_code


class Outbox:
    def __init__(self, poster: Poster = post_json) -> None:
        self._deliveries: list[Delivery] = []
        self._waiting: list[Delivery] = []  # the pending deliveries not taken yet (each has a next_attempt_at)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last attempt under way ends
        self._in_flight = 0  # deliveries taken by a pump whose attempt has not ended
        self._lanes: dict[str, deque[tuple[Delivery, float, Recorder]]] = {}  # target URL -> background work
        self._held = False
        self._poster = poster

    @property
    def held(self) -> bool:
        return self._held

    def queue(
        self,
        kind: str,
        url: str,
        payload: dict,
        now: float,
        policy: DeliveryPolicy = DEFAULT_POLICY,
        body: bytes | None = None,
    ) -> Delivery:
        """Add a delivery due now (`body`: the exact bytes to send for `payload`); the caller pumps the
        outbox to attempt it."""
        with self._lock:
            delivery = Delivery(
                f"delivery-{next(self._ids)}", kind, url, payload, next_attempt_at=now, policy=policy, body=body
            )
            self._deliveries.append(delivery)
            self._waiting.append(delivery)
            self._trim()
            return delivery

    def queue_many(self, kind: str, targets: list[tuple[str, dict, DeliveryPolicy]], now: float) -> list[Delivery]:
        """`queue` for several (url, payload, policy) at once: one lock, one trim."""
        with self._lock:
            queued = [
                Delivery(f"delivery-{next(self._ids)}", kind, url, payload, next_attempt_at=now, policy=policy)
                for url, payload, policy in targets
            ]
            self._deliveries.extend(queued)
            self._waiting.extend(queued)
            self._trim()
            return queued

    def pump(self, now: float, record: Recorder) -> list[Delivery]:
        """Attempt every delivery due at `now` (outside the lock: receivers may call the emulator back);
        background ones go to their target's worker. Nothing while the outbox is held."""
        with self._lock:
            if self._held:
                return []
            due = [d for d in self._waiting if d.next_attempt_at is not None and d.next_attempt_at <= now]
            if due:
                self._waiting = [d for d in self._waiting if d.next_attempt_at is None or d.next_attempt_at > now]
            for delivery in due:
                delivery.next_attempt_at = None  # taken: a concurrent pump does not attempt it twice
            self._in_flight += len(due)
            for delivery in due:
                if delivery.policy.background:
                    self._enqueue(delivery, now, record)
        for delivery in due:
            if not delivery.policy.background:
                self._run(delivery, now, record)
        return due

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no attempt is under way (each ends within its policy's timeout); False on `timeout`."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def hold(self) -> None:
        """Attempt nothing until `release` (attempts already under way end as they will)."""
        with self._lock:
            self._held = True

    def release(self) -> None:
        """Attempt again; the caller pumps to attempt what came due meanwhile."""
        with self._lock:
            self._held = False

    def _enqueue(self, delivery: Delivery, now: float, record: Recorder) -> None:
        lane = self._lanes.get(delivery.url)
        if lane is None:
            lane = self._lanes[delivery.url] = deque()
            threading.Thread(
                target=self._drain, args=(delivery.url, lane), name="webhook-delivery", daemon=True
            ).start()
        lane.append((delivery, now, record))

    def _drain(self, url: str, lane: deque) -> None:
        """A target's worker: its background deliveries in the order they were taken, then it ends."""
        while True:
            with self._lock:
                if not lane:
                    del self._lanes[url]
                    return
                delivery, now, record = lane.popleft()
                if self._held:  # held after it was taken: due again on release
                    delivery.next_attempt_at = now
                    self._waiting.append(delivery)
                    self._done()
                    continue
            self._run(delivery, now, record)

    def _run(self, delivery: Delivery, now: float, record: Recorder) -> None:
        try:
            attempt = self._attempt(delivery, now)
            with self._lock:
                delivery.attempts.append(attempt)
                schedule = delivery.policy.schedule()
                if delivery.policy.delivered(attempt.status):
                    delivery.state = "delivered"
                elif attempt.status in delivery.policy.final_statuses or len(delivery.attempts) > len(schedule):
                    delivery.state = "failed"
                else:
                    delivery.next_attempt_at = now + schedule[len(delivery.attempts) - 1]
                    self._waiting.append(delivery)
            record(delivery, attempt)
        finally:
            with self._lock:
                self._done()

    def _done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.notify_all()

    def _attempt(self, delivery: Delivery, now: float) -> Attempt:
        import requests  # on the first delivery: start-up does not pay for it

        policy = delivery.policy
        try:
            sent = delivery.payload if delivery.body is None else delivery.body
            return Attempt(now, self._poster(delivery.url, sent, policy.headers, policy.attempt_timeout()))
        except (requests.RequestException, ValueError) as exc:  # ValueError: a URL urllib3 cannot parse
            return Attempt(now, 0, type(exc).__name__)

    def list(self) -> list[dict]:
        with self._lock:
            return [delivery.to_dict() for delivery in self._deliveries]

    def _trim(self) -> None:
        """Past HISTORY_LIMIT, drop the oldest delivered and failed deliveries, then the oldest pending ones
        (one pass; a held or failing outbox, all pending, drops from the front)."""
        excess = len(self._deliveries) - HISTORY_LIMIT
        if excess <= 0:
            return
        done = {id(d) for d in [d for d in self._deliveries if d.state != "pending"][:excess]}
        kept = [d for d in self._deliveries if id(d) not in done] if done else self._deliveries
        oldest_pending = kept[: excess - len(done)]  # every done one went first: these are pending
        self._deliveries = kept[len(oldest_pending) :]
        if not oldest_pending:
            return  # a done delivery is never waiting
        if len(self._waiting) >= len(oldest_pending) and all(
            a is b for a, b in zip(self._waiting[: len(oldest_pending)], oldest_pending, strict=True)
        ):
            self._waiting = self._waiting[len(oldest_pending) :]
        else:
            dropped = {id(d) for d in oldest_pending}
            self._waiting = [d for d in self._waiting if id(d) not in dropped]
