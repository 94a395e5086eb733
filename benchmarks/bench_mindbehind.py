"""Mindbehind benchmark: a token-issuing, a token-validating and a read endpoint, in-process and over HTTP.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_mindbehind.py [--rounds N] [--json PATH]

Each figure is a request measured alternately with its baseline request by request (bench_foundation's
`measure_interleaved`: chunks of one, the order flipped every pair), so drift of the machine hits both alike;
each ratio is taken within one round, and the table shows the median over rounds. The baselines are routes
of a bare Flask app at the same paths doing the equivalent work:

a) `POST /external/v1/incoming/mbWebChat/token` (header `apiToken`, `{"clientID", "channelID"}`): issues a
   client token, vs a bare POST that parses the JSON body, looks the apiToken up in a dict, draws a
   `secrets.token_urlsafe(32)`, keeps it in a dict and answers `{"success": true, "token"}`;
b) `POST /__emulator/mindbehind/webchat/sessions` (`{"channelID", "auth": "token", "MB_TOKEN", "MB_CLIENT"}`):
   validates one client token (issued once, before the timing) and opens a session, vs a bare POST that
   parses the body, looks the token up in a dict, checks its client and expiry and answers 201 with a body
   of the same shape (the emulator's, captured once, with a fresh session id);
c) `GET /live-core/getClient?clientID=&companyID=` (header `apiToken`): a read, vs a bare GET that looks the
   apiToken up in a dict and answers the same client JSON from a dict.

In-process: the Flask test client. Over HTTP: the emulator app and the bare app each on a waitress
`BackgroundServer` (`emulator.serving.server`, the `emulator_server` fixture's stack) in this process, one keep-alive
`http.client` connection to each. The tokens and sessions the requests make stay in the company (the bare
app keeps its tokens too): dict entries, a few thousand per round.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

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
    bench_arguments,
    environment,
    measure_interleaved,
    pair_figures,
    serialisable,
    table,
)
from bench_sunshine import answering
from flask import Flask, Response, request

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig

ITERATIONS = 3000  # per round, pair and transport: requests of each side, strictly alternating
TOKEN_PATH = "/external/v1/incoming/mbWebChat/token"
SESSIONS_PATH = "/__emulator/mindbehind/webchat/sessions"
CLIENT_PATH = "/live-core/getClient"


@dataclass(frozen=True)
class Channel:
    """A company with one web chat channel, seeded in a namespace of its own, and one client of it."""

    company_id: str
    channel_id: str
    management_token: str
    client_id: str


def seed_channel(emulator: Flask) -> Channel:
    """A company, channel and client with fresh ids, seeded through the control API as a test seeds them."""
    suffix = secrets.token_hex(8)
    channel = Channel(f"co-{suffix}", f"ch-{suffix}", secrets.token_urlsafe(24), f"client-{suffix}")
    company = {
        "id": channel.company_id,
        "channels": [{"id": channel.channel_id, "type": "mbWebChat", "management_token": channel.management_token}],
        "clients": [
            {"clientID": channel.client_id, "name": "Bench", "surname": "Client", "email": "bench@example.com"}
        ],
    }
    EmulatorClient(namespace=f"bench-mb-{suffix}", transport=AppTransport(emulator)).seed(
        {"mindbehind": {"companies": [company]}}
    )
    return channel


def bare_app(channel: Channel, client_body: dict, session_answer: dict, token: str) -> Flask:
    """The baselines at the emulator's paths, each doing the equivalent dict work in plain Flask."""
    app = Flask("bare")
    channels = {channel.management_token: channel.channel_id}
    tokens: dict[str, dict] = {token: {"clientID": channel.client_id, "expires_at": time.time() + 86_400}}
    clients = {channel.client_id: client_body}

    def refuse(status: int, message: str) -> Response:
        return Response(json.dumps({"success": False, "message": message}), status=status, mimetype="application/json")

    @app.post(TOKEN_PATH)
    def issue() -> Response:
        body = request.get_json()
        if channels.get(request.headers.get("apiToken", "")) != body["channelID"]:
            return refuse(401, "Unauthorized")
        issued = secrets.token_urlsafe(32)
        tokens[issued] = {"clientID": body["clientID"], "expires_at": time.time() + 86_400}
        return Response(json.dumps({"success": True, "token": issued}), mimetype="application/json")

    @app.post(SESSIONS_PATH)
    def open_session() -> Response:
        body = request.get_json()
        found = tokens.get(body["MB_TOKEN"])
        if found is None or found["clientID"] != body["MB_CLIENT"] or time.time() >= found["expires_at"]:
            return refuse(401, "Unknown token")
        session = {**session_answer["session"], "session_id": secrets.token_hex(12), "opened_at": time.time()}
        answer = {"success": True, "session": session, "client": clients[body["MB_CLIENT"]]}
        return Response(json.dumps(answer), status=201, mimetype="application/json")

    @app.get(CLIENT_PATH)
    def get_client() -> Response:
        if request.headers.get("apiToken", "") not in channels:
            return refuse(401, "Unauthorized")
        return Response(json.dumps(clients[request.args["clientID"]]), mimetype="application/json")

    return app


def pairs_of(emulator: Flask, clients: Callable[[Flask], Any]) -> list[Pair]:
    """The three pairs on a fresh channel, the emulator and its bare app called through `clients(app)`."""
    channel = seed_channel(emulator)
    client = clients(emulator)
    api_token = {"apiToken": channel.management_token}
    issue_body = {"clientID": channel.client_id, "channelID": channel.channel_id}
    query = {"clientID": channel.client_id, "companyID": channel.company_id}
    token = client.post(TOKEN_PATH, headers=api_token, json=issue_body).get_json()["token"]
    session_body = {"channelID": channel.channel_id, "auth": "token", "MB_TOKEN": token, "MB_CLIENT": channel.client_id}
    session_answer = client.post(SESSIONS_PATH, json=session_body).get_json()
    client_body = client.get(CLIENT_PATH, query_string=query, headers=api_token).get_json()
    bare = clients(bare_app(channel, client_body, session_answer, token))
    pairs = [
        Pair(
            "token",
            answering(200, lambda: client.post(TOKEN_PATH, headers=api_token, json=issue_body)),
            answering(200, lambda: bare.post(TOKEN_PATH, headers=api_token, json=issue_body)),
        ),
        Pair(
            "session",
            answering(201, lambda: client.post(SESSIONS_PATH, json=session_body)),
            answering(201, lambda: bare.post(SESSIONS_PATH, json=session_body)),
        ),
        Pair(
            "read",
            answering(200, lambda: client.get(CLIENT_PATH, query_string=query, headers=api_token)),
            answering(200, lambda: bare.get(CLIENT_PATH, query_string=query, headers=api_token)),
        ),
    ]
    check_shapes(client, bare, session_body, query, api_token)
    return pairs


def check_shapes(client: Any, bare: Any, session_body: dict, query: dict, api_token: dict) -> None:
    """The bare routes answer what the emulator answers: same keys, and the same client body."""
    ours, theirs = (
        client.post(SESSIONS_PATH, json=session_body).get_json(),
        bare.post(SESSIONS_PATH, json=session_body).get_json(),
    )
    if set(ours) != set(theirs) or set(ours["session"]) != set(theirs["session"]) or ours["client"] != theirs["client"]:
        raise RuntimeError(f"the bare session route does not answer the emulator's shape: {ours} vs {theirs}")
    read = client.get(CLIENT_PATH, query_string=query, headers=api_token).get_data()
    if json.loads(read) != json.loads(bare.get(CLIENT_PATH, query_string=query, headers=api_token).get_data()):
        raise RuntimeError("the bare read route does not answer the emulator's client body")


# --- report -----------------------------------------------------------------------------------------


LABELS = {  # pair -> emulator label, baseline label
    "token": ("POST mbWebChat/token (issues a client token)", "bare POST, check apiToken, store a random token"),
    "session": ("POST webchat/sessions, auth token (validates it)", "bare POST, look the token up, 201 same shape"),
    "read": ("GET live-core/getClient", "bare GET, check apiToken, same client JSON"),
}
TRANSPORTS = {"in_process": ("a", "in-process"), "http": ("b", "HTTP")}


def summarise(run: Run) -> list[Figure]:
    figures = []
    for transport, (section, prefix) in TRANSPORTS.items():
        for key, (emulator_label, baseline_label) in LABELS.items():
            pairs = [r[transport][key] for r in run.rounds]
            figures += pair_figures(section, key, f"{prefix} {emulator_label}", f"{prefix} {baseline_label}", pairs)
    return figures


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)

    started = time.perf_counter()
    emulator = create_app(EmulatorConfig())  # the session app, shared by every round as by a test session
    served = Served()
    prepared = {"in_process": pairs_of(emulator, Flask.test_client), "http": pairs_of(emulator, served.client)}
    run = Run()
    try:
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            run.rounds.append(
                {
                    name: {pair.name: measure_interleaved(pair, ITERATIONS) for pair in pairs}
                    for name, pairs in prepared.items()
                }
            )
    finally:
        served.stop()
    figures = summarise(run)
    elapsed = time.perf_counter() - started

    print(table(figures, args.rounds))
    print(
        f"\n{ITERATIONS} requests per round, pair and transport, each side, alternating one by one; p99 over those samples;"
        f" HTTP: waitress BackgroundServer, keep-alive http.client ({args.rounds} rounds, {elapsed:.0f} s;"
        f" ratios are per-round, medians over rounds)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {"rounds": args.rounds, "iterations": ITERATIONS},
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
