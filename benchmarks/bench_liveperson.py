"""LivePerson Login Service benchmark: login and refresh in-process, as ratios to baselines of the same round.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_liveperson.py [--rounds N] [--json PATH]

Every figure is a request through the Flask test client, measured alternately with its baseline request by
request (chunks of one, the order flipped every pair, as bench_foundation's `measure_interleaved`), so drift
of the machine hits both alike; each ratio is taken within one round, and the table shows the median over rounds.

a) `POST /api/account/{a}/login?v=1.3` with `{"username", "password"}` of a seeded agent user vs a bare Flask
   POST at the same path that parses the JSON body and answers a JSON body of the same size (the
   emulator's login body, captured once; no cookie); target: median ratio <= 2.0x. Every login opens a
   session, and an account keeps at most 1,000 (a login past them drops the least recently used), so the
   account's sessions are cleared through the store every SESSION_BATCH logins, outside the timing: the
   account holds 0 to SESSION_BATCH - 1 sessions, as in a test;
b) the same login on another account held at the 1,000-session bound (filled before the timing), where
   every login also drops the least recently used session, vs the same baseline (info);
c) `POST /api/account/{a}/refresh?v=1.3` with the `session_id` cookie and `{"csrf"}` of a session opened once
   before the timing (200, empty body) vs a bare POST at the same path, same request, answering 200 empty
   (info). It runs on a third account, so neither login figure prunes its session.

`login_min_interval` keeps its default 0 (a user's logins closer than it would answer 429). The test clients
keep no cookie jar: each request carries only what it names.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import gc
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import (  # also puts the repository on sys.path when needed
    Figure,
    Pair,
    Run,
    Stats,
    bench_arguments,
    environment,
    figure,
    lp_account_seed,
    serialisable,
    table,
    warm_up,
)
from flask import Flask, Response, request

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig
from emulator.providers.liveperson.models import MAX_SESSIONS, Account
from emulator.providers.liveperson.routes import PROVIDER

ITERATIONS = 3000  # per round and pair: requests of each side, strictly alternating
SESSION_BATCH = 100  # figure a: the account's sessions are cleared (untimed) every this many logins

LOGIN_RATIO_TARGET = 2.0


# --- set-up -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentAccount:
    """An account seeded in a namespace of its own with one agent user (username and password)."""

    id: str
    namespace: str
    credentials: dict[str, str]

    def path(self, rest: str) -> str:
        return f"/api/account/{self.id}/{rest}"


def seed_account(emulator: Flask) -> AgentAccount:
    """One account with one agent user, seeded through the control API as a test seeds it; the account's
    settings are the defaults (`login_min_interval` 0)."""
    credentials = {"username": f"agent-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(12)}
    seed = lp_account_seed(users=[dict(credentials)])
    namespace = f"bench-lp-login-{secrets.token_hex(6)}"
    EmulatorClient(namespace=namespace, transport=AppTransport(emulator)).seed(seed)
    return AgentAccount(seed["liveperson"]["accounts"][0]["id"], namespace, credentials)


def stored_account(emulator: Flask, account: AgentAccount) -> Account:
    """The account's live state in the store (read and changed only under the store's lock)."""
    return emulator.extensions["emulator"].store.namespace(account.namespace).state(PROVIDER).accounts[account.id]


def answering(status: int, call: Callable[[], Any]) -> Callable[[], None]:
    """`call` (a test-client request) that raises unless it answers `status`."""

    def run() -> None:
        response = call()
        if response.status_code != status:
            raise RuntimeError(f"benchmark request failed: {response.status_code} {response.get_data(as_text=True)}")

    return run


def bare_app(login_body: dict) -> Flask:
    """The baselines, at the emulator's paths: a POST parsing the JSON body and answering a JSON body of the
    login's size, and a POST answering 200 with an empty body."""
    app = Flask("bare")

    @app.post("/api/account/<account_id>/login")
    def login(account_id: str) -> Response:
        body = request.get_json()
        answer = {**login_body, "config": {**login_body["config"], "loginName": body["username"]}}
        return Response(json.dumps(answer), mimetype="application/json")

    @app.post("/api/account/<account_id>/refresh")
    def refresh(account_id: str) -> Response:
        return Response(b"", status=200, mimetype="text/plain")

    return app


@dataclass
class Setup:
    pairs: list[Pair]
    resets: dict[str, Callable[[], None]]  # pair -> untimed, every SESSION_BATCH iterations
    sessions: dict[str, Callable[[], int]]  # pair -> the account's session count, for the report


def setup(emulator: Flask) -> Setup:
    fresh, full, refreshing = seed_account(emulator), seed_account(emulator), seed_account(emulator)
    client = emulator.test_client(use_cookies=False)
    store = emulator.extensions["emulator"].store

    def login(account: AgentAccount) -> Callable[[], Any]:
        path, body = account.path("login"), account.credentials
        return lambda: client.post(path, query_string={"v": "1.3"}, json=body)

    sample = login(fresh)()
    if sample.status_code != 200:
        raise RuntimeError(f"the benchmark's login failed: {sample.status_code} {sample.get_data(as_text=True)}")
    bare = bare_app(sample.get_json()).test_client(use_cookies=False)

    def bare_login() -> Any:
        return bare.post(fresh.path("login"), query_string={"v": "1.3"}, json=fresh.credentials)

    if len(bare_login().get_data()) != len(sample.get_data()):
        raise RuntimeError("the bare login route does not answer a body of the login's size")

    opened = login(refreshing)().get_json()
    headers, csrf = {"Cookie": f"session_id={opened['sessionId']}"}, {"csrf": opened["csrf"]}
    refresh_path = refreshing.path("refresh")

    started = time.perf_counter()
    for _ in range(MAX_SESSIONS):
        answering(200, login(full))()
    print(
        f"set-up: {MAX_SESSIONS:,} sessions opened in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )

    def clear_sessions() -> None:
        with store.lock:
            stored_account(emulator, fresh).sessions.clear()

    def session_count(account: AgentAccount) -> Callable[[], int]:
        def count() -> int:
            with store.lock:
                return len(stored_account(emulator, account).sessions)

        return count

    bare_login_ok = answering(200, bare_login)
    pairs = [
        Pair("login", answering(200, login(fresh)), bare_login_ok),
        Pair("login_full", answering(200, login(full)), bare_login_ok),
        Pair(
            "refresh",
            answering(200, lambda: client.post(refresh_path, query_string={"v": "1.3"}, headers=headers, json=csrf)),
            answering(200, lambda: bare.post(refresh_path, query_string={"v": "1.3"}, headers=headers, json=csrf)),
        ),
    ]
    for pair in pairs:
        pair.emulator()
        pair.baseline()
    return Setup(
        pairs,
        {"login": clear_sessions},
        {"login": session_count(fresh), "login_full": session_count(full), "refresh": session_count(refreshing)},
    )


# --- measurement ------------------------------------------------------------------------------------


def measure_alternating(pair: Pair, iterations: int, reset: Callable[[], None] | None = None) -> dict[str, Stats]:
    """bench_foundation's `measure_interleaved` (chunks of one, the order flipped every pair), with `reset`
    called outside the timing before every SESSION_BATCH iterations."""
    warm_up(pair.emulator, pair.baseline)
    emulator_samples: list[float] = []
    baseline_samples: list[float] = []
    forward = ((pair.baseline, baseline_samples), (pair.emulator, emulator_samples))
    backward = forward[::-1]
    clock = time.perf_counter
    gc.collect()
    for number in range(iterations):
        if reset is not None and number % SESSION_BATCH == 0:
            reset()
        for operation, samples in backward if number % 2 else forward:
            start = clock()
            operation()
            samples.append(clock() - start)
    return {"emulator": Stats.of(emulator_samples), "baseline": Stats.of(baseline_samples)}


# --- report -----------------------------------------------------------------------------------------


LABELS = {  # pair -> section, emulator label, baseline label, ratio target
    "login": ("a", "POST login?v=1.3, user+password", "bare POST, parse JSON, same-size JSON", LOGIN_RATIO_TARGET),
    "login_full": (
        "b",
        f"same login, account at {MAX_SESSIONS:,} sessions",
        "bare POST, parse JSON, same-size JSON",
        None,
    ),
    "refresh": ("c", "POST refresh?v=1.3, cookie+csrf, 200 empty", "bare POST, same request, 200 empty", None),
}


def ratio(pair: dict[str, Stats]) -> tuple[float, float]:
    return pair["emulator"].median_ms / pair["baseline"].median_ms, pair["emulator"].p99_ms / pair["baseline"].p99_ms


def summarise(run: Run) -> list[Figure]:
    figures = []
    for key, (section, emulator_label, baseline_label, target) in LABELS.items():
        pairs = [r[key] for r in run.rounds]
        figures += [
            figure(section, emulator_label, "ms", [(p["emulator"].median_ms, p["emulator"].p99_ms) for p in pairs]),
            figure(
                section,
                f"  baseline: {baseline_label}",
                "ms",
                [(p["baseline"].median_ms, p["baseline"].p99_ms) for p in pairs],
            ),
            figure(section, f"  ratio {key} / baseline", "x", [ratio(p) for p in pairs], target=target),
        ]
    return figures


# --- main -------------------------------------------------------------------------------------------


def one_round(prepared: Setup) -> dict:
    return {pair.name: measure_alternating(pair, ITERATIONS, prepared.resets.get(pair.name)) for pair in prepared.pairs}


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)

    started = time.perf_counter()
    emulator = create_app(EmulatorConfig())  # the session app, shared by every round as by a test session
    prepared = setup(emulator)
    run = Run()
    for number in range(1, args.rounds + 1):
        print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
        run.rounds.append(one_round(prepared))
    sessions = {name: count() for name, count in prepared.sessions.items()}
    if sessions["login_full"] != MAX_SESSIONS or sessions["refresh"] != 1:
        raise RuntimeError(f"the benchmark's accounts do not hold the sessions they should: {sessions}")
    figures = summarise(run)
    elapsed = time.perf_counter() - started

    print(table(figures, args.rounds))
    misses = [f.name.strip() for f in figures if f.result == "MISS"]
    print(
        f"\n{ITERATIONS} requests per round and side, alternating one by one; p99 over those samples;"
        f" a: sessions cleared every {SESSION_BATCH} logins, b: {sessions['login_full']:,} sessions at the end"
    )
    print(
        f"{len(figures)} figures, {sum(f.result == 'PASS' for f in figures)} PASS, {len(misses)} MISS"
        f" ({args.rounds} rounds, {elapsed:.0f} s; ratios are per-round, medians over rounds)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {
                "rounds": args.rounds,
                "iterations": ITERATIONS,
                "session_batch": SESSION_BATCH,
                "max_sessions": MAX_SESSIONS,
            },
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
