"""Sunshine Conversations benchmark: the v2 request path in-process, as ratios to baselines of the same round.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_sunshine.py [--rounds N] [--json PATH]

Every figure is a request through the Flask test client, measured alternately with its baseline request by
request (bench_foundation's `measure_interleaved`: chunks of one, the order flipped every pair), so drift of
the machine hits both alike; each ratio is taken within one round, and the table shows the median over rounds.

a) `GET /v2/apps/{app}/users/{id}` with Basic `keyId:secret` vs a bare Flask route at the same path
   returning the same JSON body (the user's public form, looked up in a dict); target: median ratio <= 1.5x;
b) the same GET with an app-scope Bearer HS256 JWT (signed with `sign_jwt`) vs the same bare route (info);
c) the Basic GET in an app holding 100,000 users vs the same GET in an app holding 10 users, each app in a
   namespace of its own; target: median ratio <= 1.2x. An A/A line (10 users vs 10 users) shows the
   resolution of the run. The big app is built outside the timing: its seed is validated once as an `App`
   and put in place through the store (about 3x faster than a control seed, which validates and then copies);
d) `POST /v2/apps/{app}/conversations/{id}/messages` (a business text message) vs a bare Flask POST that parses
   the JSON body and answers 201 with a message of the same shape (info). The conversation's messages are
   deleted through the API between rounds, so it never nears the provider's per-conversation limit;
e) the token-issuing endpoint: SDK `POST /sdk/v2/apps/{app}/appusers` (a fresh client id each time) creates an
   anonymous user and issues its `sessionToken`, vs a bare POST that parses the JSON body, draws an id and a
   `secrets.token_urlsafe(32)`, keeps them in a dict and answers 201 with a body of the same shape (the
   emulator's, captured once); in an app of its own, since every call adds a user (info);
f) over HTTP: a)'s Basic GET (read), b)'s Bearer GET (validates a token) and e)'s appusers (issues one), the
   emulator app and the bare app each on a waitress `BackgroundServer` (`emulator.serving.server`, the
   `emulator_server` fixture's stack) in this process, one keep-alive `http.client` connection to each,
   alternating request by request as above (info).
g) a)'s GET and d)'s POST in an app with a switchboard present and ten webhooks subscribed: ten custom
   integrations, each with one webhook subscribed to `conversation:message`, the first two linked in an
   enabled switchboard (the first the default, so active in the conversation; neither gets standby events),
   vs the same bare routes; each message is routed by control and queued for nine webhooks. The namespace's
   deliveries are held, so events are rendered and queued but never attempted (targets are never called);
   compare with a)'s and d)'s ratios of the same run. The same POST vs the same POST in an app with the same
   ten webhooks and no switchboard (emulator against emulator) isolates what the switchboard costs.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import base64
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
    Served,
    Stats,
    bench_arguments,
    environment,
    figure,
    measure_interleaved,
    pair_figures,
    serialisable,
    table,
)
from flask import Flask, Response, request

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig
from emulator.core.clock import format_instant
from emulator.providers.sunshine.auth import sign_jwt
from emulator.providers.sunshine.models import PROVIDER, App, SunshineSeed

ITERATIONS = 3000  # per round and pair: requests of each side, strictly alternating
BIG_APP_USERS = 100_000
SMALL_APP_USERS = 10
SWITCHBOARD_WEBHOOKS = 10  # the most webhooks an app may have

BASIC_RATIO_TARGET = 1.5
BIG_APP_RATIO_TARGET = 1.2

MESSAGE = {
    "author": {"type": "business", "displayName": "Bench"},
    "content": {"type": "text", "text": "Hello from the bench"},
}


# --- set-up -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SunshineApp:
    """An app seeded in a namespace of its own, with one app key and the users it was seeded with."""

    id: str
    key_id: str
    secret: str
    user_ids: list[str]
    namespace: str = ""

    @property
    def basic(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.key_id}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {sign_jwt({'scope': 'app'}, self.key_id, self.secret)}"}

    def path(self, rest: str) -> str:
        return f"/v2/apps/{self.id}/{rest}"


def app_seed(users: int) -> dict:
    """One app in the seed's shape: fresh ids, one app key, `users` users with an externalId each."""
    return {
        "id": secrets.token_hex(12),
        "keys": [{"id": f"app_{secrets.token_hex(12)}", "secret": secrets.token_urlsafe(18)}],
        "users": [{"id": secrets.token_hex(12), "externalId": f"bench-user-{number}"} for number in range(users)],
    }


def seed_app(emulator: Flask, users: int) -> SunshineApp:
    """An app with `users` users in a fresh namespace. Small apps go through the control API as a test
    seeds them; the big one is validated once and put in place through the store (a control seed
    validates it and the store then deep-copies it: twice the work for the same state)."""
    seed = app_seed(users)
    namespace = f"bench-sunshine-{secrets.token_hex(6)}"
    if users <= 1000:
        EmulatorClient(namespace=namespace, transport=AppTransport(emulator)).seed({"sunshine": {"apps": [seed]}})
    else:
        store = emulator.extensions["emulator"].store
        full = App.model_validate(seed)
        store.seed(namespace, {"sunshine": SunshineSeed.model_validate({"apps": [{**seed, "users": []}]})})
        with store.lock:
            store.namespace(namespace).state(PROVIDER).apps[full.id] = full
            store.reindex(namespace)
    key = seed["keys"][0]
    return SunshineApp(seed["id"], key["id"], key["secret"], [user["id"] for user in seed["users"]], namespace)


def answering(status: int, call: Callable[[], Any]) -> Callable[[], None]:
    """`call` (a test-client request) that raises unless it answers `status`."""

    def run() -> None:
        response = call()
        if response.status_code != status:
            raise RuntimeError(f"benchmark request failed: {response.status_code} {response.get_data(as_text=True)}")

    return run


def bare_app(users: dict[str, dict], app_user: dict | None = None) -> Flask:
    """The baselines: a bare Flask app at the same paths, answering from a dict / parsing the posted JSON;
    `app_user`: the emulator's SDK appusers answer, whose shape the bare appusers route answers."""
    app = Flask("bare")
    sessions: dict[str, str] = {}

    @app.post("/sdk/v2/apps/<app_id>/appusers")
    def create_app_user(app_id: str) -> Response:
        body = request.get_json()
        user_id, token = secrets.token_hex(12), secrets.token_urlsafe(32)
        sessions[token] = user_id
        client = {**app_user["appUser"]["clients"][0], "id": body["client"]["id"]}
        answer = {
            **app_user,
            "appUser": {**app_user["appUser"], "_id": user_id, "clients": [client]},
            "sessionToken": token,
        }
        return Response(json.dumps(answer), status=201, mimetype="application/json")

    @app.get("/v2/apps/<app_id>/users/<user_id>")
    def get_user(app_id: str, user_id: str) -> Response:
        return Response(json.dumps({"user": users[user_id]}), mimetype="application/json")

    @app.post("/v2/apps/<app_id>/conversations/<conversation_id>/messages")
    def post_message(app_id: str, conversation_id: str) -> Response:
        body = request.get_json()
        message = {
            "id": secrets.token_hex(12),
            "received": format_instant(time.time()),
            "author": body["author"],
            "content": body["content"],
            "source": {"type": "api:conversations"},
            "metadata": body.get("metadata"),
            "deleted": False,
        }
        return Response(json.dumps({"messages": [message]}), status=201, mimetype="application/json")

    return app


def created(reply: Any, wrapper: str) -> dict:
    if reply.status_code != 201:
        raise RuntimeError(f"benchmark set-up refused: {reply.status_code} {reply.get_data(as_text=True)}")
    return reply.get_json()[wrapper]


def switchboard_app(emulator: Flask, switchboard: bool = True) -> tuple[SunshineApp, str]:
    """g)'s app and the path of its conversation's messages (see the module's docstring); without
    `switchboard`, the same ten webhooks and no switchboard."""
    app = seed_app(emulator, SMALL_APP_USERS)
    client = emulator.test_client()
    integrations = [
        created(
            client.post(
                app.path("integrations"),
                headers=app.basic,
                json={
                    "type": "custom",
                    "webhooks": [{"target": f"http://127.0.0.1:9/hook-{number}", "triggers": ["conversation:message"]}],
                },
            ),
            "integration",
        )
        for number in range(SWITCHBOARD_WEBHOOKS)
    ]
    if switchboard:
        board = created(client.post(app.path("switchboards"), headers=app.basic), "switchboard")["id"]
        members = [
            created(
                client.post(
                    app.path(f"switchboards/{board}/switchboardIntegrations"),
                    headers=app.basic,
                    json={"name": name, "integrationId": integration["id"], "deliverStandbyEvents": False},
                ),
                "switchboardIntegration",
            )
            for name, integration in zip(("bot", "desk"), integrations, strict=True)
        ]
        enabled = client.patch(
            app.path(f"switchboards/{board}"),
            headers=app.basic,
            json={"enabled": True, "defaultSwitchboardIntegrationId": members[0]["id"]},
        )
        if enabled.status_code != 200:
            raise RuntimeError(f"cannot enable the benchmark's switchboard: {enabled.get_data(as_text=True)}")
    EmulatorClient(namespace=app.namespace, transport=AppTransport(emulator)).hold_deliveries()
    conversation = created(
        client.post(
            app.path("conversations"),
            headers=app.basic,
            json={"type": "personal", "participants": [{"userId": app.user_ids[3]}]},
        ),
        "conversation",
    )
    if switchboard and conversation.get("activeSwitchboardIntegration", {}).get("name") != "bot":
        raise RuntimeError("the benchmark's conversation is not under the switchboard")
    return app, app.path(f"conversations/{conversation['id']}/messages")


@dataclass
class Setup:
    pairs: list[Pair]
    clear_messages: Callable[[], None]  # untimed, before each round (every conversation of the set-up)


def setup(emulator: Flask) -> Setup:
    started = time.perf_counter()
    small, other_small = seed_app(emulator, SMALL_APP_USERS), seed_app(emulator, SMALL_APP_USERS)
    big = seed_app(emulator, BIG_APP_USERS)
    print(
        f"set-up: apps of {SMALL_APP_USERS} and {BIG_APP_USERS:,} users in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    client = emulator.test_client()
    small_user, other_user, big_user = small.user_ids[3], other_small.user_ids[7], big.user_ids[BIG_APP_USERS // 2]
    conversation = client.post(
        small.path("conversations"),
        headers=small.basic,
        json={"type": "personal", "participants": [{"userId": small_user}]},
    )
    if conversation.status_code != 201:
        raise RuntimeError(f"cannot create the benchmark's conversation: {conversation.get_data(as_text=True)}")
    messages = small.path(f"conversations/{conversation.get_json()['conversation']['id']}/messages")

    user_body = client.get(small.path(f"users/{small_user}"), headers=small.basic).get_json()["user"]
    bare = bare_app({small_user: user_body}).test_client()
    if (
        bare.get(small.path(f"users/{small_user}")).get_data()
        != client.get(small.path(f"users/{small_user}"), headers=small.basic).get_data()
    ):
        raise RuntimeError("the bare route does not answer the emulator's JSON body")
    basic, bearer = small.basic, small.bearer()

    def get(app: SunshineApp, user_id: str, headers: dict) -> Callable[[], None]:
        path = app.path(f"users/{user_id}")
        return answering(200, lambda: client.get(path, headers=headers))

    bare_get = answering(200, lambda: bare.get(small.path(f"users/{small_user}"), headers=basic))
    small_get, other_get = get(small, small_user, basic), get(other_small, other_user, other_small.basic)
    pairs = [
        Pair("basic", small_get, bare_get),
        Pair("jwt", get(small, small_user, bearer), bare_get),
        Pair("big_app", get(big, big_user, big.basic), small_get),
        Pair("small_app_noise", other_get, small_get),  # A/A: the resolution of the run
        Pair(
            "post_message",
            answering(201, lambda: client.post(messages, headers=basic, json=MESSAGE)),
            answering(201, lambda: bare.post(messages, headers=basic, json=MESSAGE)),
        ),
    ]
    switched, switched_messages = switchboard_app(emulator)
    unswitched, unswitched_messages = switchboard_app(emulator, switchboard=False)
    switched_post = answering(201, lambda: client.post(switched_messages, headers=switched.basic, json=MESSAGE))
    pairs += [
        Pair("switchboard_get", get(switched, switched.user_ids[3], switched.basic), bare_get),
        Pair(
            "switchboard_post", switched_post, answering(201, lambda: bare.post(messages, headers=basic, json=MESSAGE))
        ),
        Pair(
            "switchboard_cost",
            switched_post,
            answering(201, lambda: client.post(unswitched_messages, headers=unswitched.basic, json=MESSAGE)),
        ),
    ]
    for pair in pairs:
        pair.emulator()
        pair.baseline()
    clear_plain = answering(200, lambda: client.delete(messages, headers=basic))
    clear_switched = answering(200, lambda: client.delete(switched_messages, headers=switched.basic))
    clear_unswitched = answering(200, lambda: client.delete(unswitched_messages, headers=unswitched.basic))

    def clear_messages() -> None:
        for clear in (clear_plain, clear_switched, clear_unswitched):
            clear()

    return Setup(pairs, clear_messages)


def sdk_body() -> dict:
    return {"client": {"id": secrets.token_hex(16), "platform": "web"}}


def issuing_pairs(emulator: Flask, clients: Callable[[Flask], Any], with_reads: bool) -> list[Pair]:
    """e)'s appusers pair on a fresh app, and with `with_reads` a)'s and b)'s GETs on it too (before any
    appusers call, so they read a user seeded with it), the emulator and its bare app through `clients(app)`."""
    app = seed_app(emulator, SMALL_APP_USERS)
    client = clients(emulator)
    path = f"/sdk/v2/apps/{app.id}/appusers"
    app_user = client.post(path, json=sdk_body())
    if app_user.status_code != 201:
        raise RuntimeError(f"SDK appusers answered {app_user.status_code}: {app_user.get_data(as_text=True)}")
    user_id = app.user_ids[3]
    user_body = client.get(app.path(f"users/{user_id}"), headers=app.basic).get_json()["user"]
    bare = clients(bare_app({user_id: user_body}, app_user.get_json()))
    if set(bare.post(path, json=sdk_body()).get_json()) != set(app_user.get_json()):
        raise RuntimeError("the bare appusers route does not answer the emulator's shape")
    user_path, basic, bearer = app.path(f"users/{user_id}"), app.basic, app.bearer()
    bare_get = answering(200, lambda: bare.get(user_path, headers=basic))
    pairs = [
        Pair(
            "appusers",
            answering(201, lambda: client.post(path, json=sdk_body())),
            answering(201, lambda: bare.post(path, json=sdk_body())),
        )
    ]
    if with_reads:
        pairs += [
            Pair("http_basic", answering(200, lambda: client.get(user_path, headers=basic)), bare_get),
            Pair("http_jwt", answering(200, lambda: client.get(user_path, headers=bearer)), bare_get),
        ]
    return pairs


# --- report -----------------------------------------------------------------------------------------


LABELS = {  # pair -> section, emulator label, baseline label, ratio target
    "basic": ("a", "GET users/{id}, Basic", "bare GET JSON, same body", BASIC_RATIO_TARGET),
    "jwt": ("b", "GET users/{id}, Bearer app JWT", "bare GET JSON, same body", None),
    "big_app": (
        "c",
        f"GET users/{{id}}, app of {BIG_APP_USERS:,} users",
        f"same GET, app of {SMALL_APP_USERS} users",
        BIG_APP_RATIO_TARGET,
    ),
    "post_message": ("d", "POST conversations/{id}/messages", "bare POST, parse JSON, 201", None),
    "switchboard_get": ("g", "GET users/{id}, Basic, switchboard + 10 webhooks", "bare GET JSON, same body", None),
    "switchboard_post": ("g", "POST messages, switchboard + 10 webhooks (held)", "bare POST, parse JSON, 201", None),
    "switchboard_cost": (
        "g",
        "POST messages, switchboard + 10 webhooks (held)",
        "same POST, 10 webhooks, no switchboard",
        None,
    ),
}
ISSUING_LABELS = {  # (transport, pair) -> section, emulator label, baseline label
    ("in_process", "appusers"): (
        "e",
        "SDK POST appusers (issues a sessionToken)",
        "bare POST, random id+token, 201 same shape",
    ),
    ("http", "http_basic"): ("f", "HTTP GET users/{id}, Basic", "HTTP bare GET JSON, same body"),
    ("http", "http_jwt"): ("f", "HTTP GET users/{id}, Bearer app JWT", "HTTP bare GET JSON, same body"),
    ("http", "appusers"): (
        "f",
        "HTTP SDK POST appusers (issues a sessionToken)",
        "HTTP bare POST, random id+token, 201",
    ),
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
        if key == "big_app":
            figures.append(
                figure(
                    section,
                    "  A/A: 10 users / 10 users (other app)",
                    "x",
                    [ratio(r["small_app_noise"]) for r in run.rounds],
                )
            )
    for (transport, key), (section, emulator_label, baseline_label) in ISSUING_LABELS.items():
        figures += pair_figures(section, key, emulator_label, baseline_label, [r[transport][key] for r in run.rounds])
    return figures


# --- main -------------------------------------------------------------------------------------------


def one_round(prepared: Setup, issuing: dict[str, list[Pair]]) -> dict:
    prepared.clear_messages()
    measured: dict[str, Any] = {pair.name: measure_interleaved(pair, ITERATIONS) for pair in prepared.pairs}
    for transport, pairs in issuing.items():
        measured[transport] = {pair.name: measure_interleaved(pair, ITERATIONS) for pair in pairs}
    return measured


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)

    started = time.perf_counter()
    emulator = create_app(EmulatorConfig())  # the session app, shared by every round as by a test session
    prepared = setup(emulator)
    served = Served()
    issuing = {
        "in_process": issuing_pairs(emulator, Flask.test_client, False),
        "http": issuing_pairs(emulator, served.client, True),
    }
    run = Run()
    try:
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            run.rounds.append(one_round(prepared, issuing))
    finally:
        served.stop()
    figures = summarise(run)
    elapsed = time.perf_counter() - started

    print(table(figures, args.rounds))
    misses = [f.name.strip() for f in figures if f.result == "MISS"]
    print(f"\n{ITERATIONS} requests per round and side, alternating one by one; p99 over those samples")
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
                "big_app_users": BIG_APP_USERS,
                "small_app_users": SMALL_APP_USERS,
            },
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
