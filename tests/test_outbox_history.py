"""The outbox's bounded history: past HISTORY_LIMIT the oldest delivered or failed deliveries go first, then
the oldest pending ones, which also leave the waiting line; `queue_many` queues like `queue` in one go."""

from __future__ import annotations

import pytest

from emulator.core import deliveries
from emulator.core.deliveries import Outbox


@pytest.fixture
def attempted() -> list[str]:
    return []


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch, attempted: list[str]) -> Outbox:
    monkeypatch.setattr(deliveries, "HISTORY_LIMIT", 4)
    box = Outbox(poster=lambda url, payload, headers, timeout: attempted.append(url) or 200)
    box.hold()  # nothing is attempted until released
    return box


def ids(box: Outbox) -> list[str]:
    return [d["id"] for d in box.list()]


def test_done_deliveries_go_before_pending_ones(outbox: Outbox) -> None:
    first = [outbox.queue("k", f"http://h/{n}", {"n": n}, 0.0) for n in range(4)]
    first[1].state, first[3].state = "delivered", "failed"
    outbox.queue("k", "http://h/4", {"n": 4}, 0.0)
    assert ids(outbox) == ["delivery-1", "delivery-3", "delivery-4", "delivery-5"]
    outbox.queue_many(
        "k",
        [("http://h/5", {"n": 5}, deliveries.DEFAULT_POLICY), ("http://h/6", {"n": 6}, deliveries.DEFAULT_POLICY)],
        0.0,
    )
    # delivery-4 (failed) goes, then the oldest pending one
    assert ids(outbox) == ["delivery-3", "delivery-5", "delivery-6", "delivery-7"]


def test_pending_deliveries_past_the_limit_leave_the_waiting_line(outbox: Outbox, attempted: list[str]) -> None:
    queued = outbox.queue_many("k", [(f"http://h/{n}", {"n": n}, deliveries.DEFAULT_POLICY) for n in range(6)], 0.0)
    assert [d.id for d in queued] == [f"delivery-{n}" for n in range(1, 7)]
    assert ids(outbox) == ["delivery-3", "delivery-4", "delivery-5", "delivery-6"]
    outbox.release()
    outbox.pump(0.0, lambda delivery, attempt: None)
    assert sorted(attempted) == [f"http://h/{n}" for n in range(2, 6)]
