"""Namespaces do not wait for each other: a long export, reset or control call of one leaves another's
requests running, and a token is signed and verified outside every lock.

Each test holds one namespace busy on an Event (never on time), shows that a request of another namespace
finishes meanwhile, and that a request of the busy namespace does wait (so the test could fail). The
bounds are generous: they only stop a deadlock from hanging the run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from emulator.app import create_app
from emulator.core.keys import KeyRing
from emulator.core.store import EveryNamespace, NamespaceLock
from emulator.web import NAMESPACE_HEADER, runtime

DEADLOCK_GUARD_S = 30.0  # only a hang gets anywhere near this
STILL_WAITING_S = 0.3  # how long a request that must wait is watched (it is then let go)
ACCOUNTS = {"a": "71000001", "b": "71000002"}


@pytest.fixture
def app() -> Any:
    app = create_app()
    client = app.test_client()
    for namespace, account in ACCOUNTS.items():
        seed = {"liveperson": {"accounts": [{"id": account, "connectors": [{"id": "1", "type": "unauthenticated"}]}]}}
        assert client.post(f"/__emulator/seed?namespace={namespace}", json=seed).status_code == 200
    return app


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def issue(app: Any, namespace: str) -> int:
    """`anonymous/authorize` in the namespace's account: the status."""
    return app.test_client().post(f"/api/account/{ACCOUNTS[namespace]}/anonymous/authorize").status_code


def still_waiting(future: Future) -> bool:
    try:
        future.result(timeout=STILL_WAITING_S)
    except TimeoutError:
        return True
    return False


def blocking(release: threading.Event, entered: threading.Event, work: Any) -> Any:
    """`work` that signals it started, then waits for `release`."""

    def blocked(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(DEADLOCK_GUARD_S)
        return work(*args, **kwargs)

    return blocked


def test_a_long_export_of_one_namespace_does_not_stall_another(app, pool, monkeypatch):
    store = runtime(app).store
    entered, release = threading.Event(), threading.Event()
    state_a = store.namespace("a").state("liveperson")
    export_of = type(state_a).export
    stalled = blocking(release, entered, export_of)
    monkeypatch.setattr(type(state_a), "export", lambda self: stalled(self) if self is state_a else export_of(self))
    export = pool.submit(lambda: app.test_client().get("/__emulator/state?namespace=a").status_code)
    assert entered.wait(DEADLOCK_GUARD_S)
    try:
        assert pool.submit(issue, app, "b").result(timeout=DEADLOCK_GUARD_S) == 200
        waiting = pool.submit(issue, app, "a")
        assert still_waiting(waiting)  # the export holds a's lock: a's own request waits for it
    finally:
        release.set()
    assert export.result(timeout=DEADLOCK_GUARD_S) == 200
    assert waiting.result(timeout=DEADLOCK_GUARD_S) == 200


def test_a_reset_waits_for_its_own_namespace_only(app, pool):
    store = runtime(app).store
    with store.lock_of("a"):  # a request of `a` under way
        reset = pool.submit(lambda: app.test_client().post("/__emulator/reset?namespace=a").status_code)
        assert still_waiting(reset)
        assert pool.submit(issue, app, "b").result(timeout=DEADLOCK_GUARD_S) == 200
        other_reset = pool.submit(lambda: app.test_client().post("/__emulator/reset?namespace=b").status_code)
        assert other_reset.result(timeout=DEADLOCK_GUARD_S) == 200
    assert reset.result(timeout=DEADLOCK_GUARD_S) == 200
    assert store.names() == []


def test_a_control_call_holding_its_namespace_leaves_the_others_running(app, pool, monkeypatch):
    """A key rotation in `a` stuck under a's lock: `b` issues tokens, `a` waits."""
    entered, release = threading.Event(), threading.Event()
    keys_a = runtime(app).store.namespace("a").keys
    monkeypatch.setattr(keys_a, "rotate", blocking(release, entered, keys_a.rotate))
    rotate = pool.submit(lambda: app.test_client().post("/__emulator/tokens/rotate?namespace=a", json={}).status_code)
    assert entered.wait(DEADLOCK_GUARD_S)
    try:
        assert pool.submit(issue, app, "b").result(timeout=DEADLOCK_GUARD_S) == 200
        waiting = pool.submit(issue, app, "a")
        assert still_waiting(waiting)
    finally:
        release.set()
    assert rotate.result(timeout=DEADLOCK_GUARD_S) == 200
    assert waiting.result(timeout=DEADLOCK_GUARD_S) == 200


def test_store_lock_in_a_request_is_the_lock_of_its_namespace(app):
    store = runtime(app).store
    with app.test_request_context(f"/api/account/{ACCOUNTS['a']}/anonymous/authorize", method="POST"):
        app.preprocess_request()  # the request hooks bind the namespace
        assert store.lock is store.namespace("a").lock
    with app.test_request_context(
        "/api/account/unknown/anonymous/authorize", method="POST", headers={NAMESPACE_HEADER: "c"}
    ):
        app.preprocess_request()
        assert store.lock is store.lock_of("c")
        assert "c" not in store.names()  # locking a namespace does not create it
    with app.test_request_context("/__emulator/clock?namespace=b"):
        app.preprocess_request()
        assert store.lock is store.namespace("b").lock
    assert isinstance(store.lock, EveryNamespace)  # outside a request


def test_outside_a_request_store_lock_holds_every_namespace(app, pool):
    store = runtime(app).store
    with store.lock:
        attempts = [pool.submit(lambda n=n: store.lock_of(n).acquire(timeout=STILL_WAITING_S)) for n in ACCOUNTS]
        assert [attempt.result(timeout=DEADLOCK_GUARD_S) for attempt in attempts] == [False, False]
    assert store.lock_of("a").acquire(timeout=DEADLOCK_GUARD_S)
    store.lock_of("a").release()


def test_a_namespace_keeps_one_lock_across_a_reset(app):
    store = runtime(app).store
    lock = store.namespace("a").lock
    store.reset("a")
    assert isinstance(lock, NamespaceLock)
    assert store.namespace("a").lock is lock  # a request that held it and one after the reset exclude each other


def test_tokens_are_signed_outside_the_namespace_lock(app, pool, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    monkeypatch.setattr(KeyRing, "sign", blocking(release, entered, KeyRing.sign))
    signing = pool.submit(issue, app, "a")
    assert entered.wait(DEADLOCK_GUARD_S)
    try:
        lock = runtime(app).store.namespace("a").lock
        assert lock.acquire(timeout=DEADLOCK_GUARD_S)  # free while the request signs
        lock.release()
    finally:
        release.set()
    assert signing.result(timeout=DEADLOCK_GUARD_S) == 200


def test_tokens_are_verified_outside_the_namespace_lock(app, pool, monkeypatch):
    client = app.test_client()
    token = client.post(f"/api/account/{ACCOUNTS['a']}/anonymous/authorize").get_json()["token"]
    entered, release = threading.Event(), threading.Event()
    monkeypatch.setattr(KeyRing, "verify", blocking(release, entered, KeyRing.verify))
    path = f"/api/account/{ACCOUNTS['a']}/app/1/authenticate?v=3.0"
    exchange = pool.submit(lambda: app.test_client().post(path, json={"id_token": token}).status_code)
    assert entered.wait(DEADLOCK_GUARD_S)
    try:
        lock = runtime(app).store.namespace("a").lock
        assert lock.acquire(timeout=DEADLOCK_GUARD_S)
        lock.release()
    finally:
        release.set()
    assert exchange.result(timeout=DEADLOCK_GUARD_S) == 200
