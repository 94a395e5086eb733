"""LivePerson Connector API webhooks benchmark: a message post that triggers webhooks vs the same post without.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_webhooks.py [--rounds N] [--json PATH]

Two accounts of one in-process emulator, each with an app installation and a Connector API consumer in an
open conversation; one installation registers all five webhooks at a receiver (a separate process, so that
only the emulator's side of a delivery runs in this one), the other registers none. The figure is the
Connector API's `POST .../conversation/send?v=3` of a text ContentEvent through the Flask test client, the
webhooked account's post against the other's, request by request, alternating (chunks of one, the order
flipped every pair, as bench_foundation's `measure_interleaved`), each ratio taken within one round; the table
shows the median over rounds.

a) a receiver that answers 200 at once; target: median ratio <= 1.2x (the delivery is made off the request
   path, on the outbox's worker thread);
b) a receiver that answers after SLOW_RECEIVER_SECONDS (info): the post must not wait for it either.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import gc
import json
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import (
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

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.config import EmulatorConfig
from emulator.providers.liveperson.models import WEBHOOK_EVENT_TYPES

ITERATIONS = 2000  # per round and side, strictly alternating
SLOW_ITERATIONS = 400  # b: a slow receiver's backlog grows by one delivery per post
SLOW_RECEIVER_SECONDS = 0.05
RATIO_TARGET = 1.2
RECEIVER = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
delay = float(sys.argv[1])
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@dataclass
class Receiver:
    process: subprocess.Popen
    url: str

    @classmethod
    def start(cls, delay: float) -> Receiver:
        process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(delay)], stdout=subprocess.PIPE, text=True)
        port = int(process.stdout.readline())  # type: ignore[union-attr]
        return cls(process, f"http://127.0.0.1:{port}/hooks")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def connector(control: EmulatorClient, transport: AppTransport, webhook_url: str | None) -> Callable[[], None]:
    """Seed an account with an installation (all five webhooks at `webhook_url`, or none), open a Connector
    API conversation; a call that posts one text message into it."""
    client_id, secret = str(uuid.uuid4()), secrets.token_hex(13)
    webhooks = {kind: {"endpoint": webhook_url} for kind in WEBHOOK_EVENT_TYPES} if webhook_url else {}
    seed = lp_account_seed(
        apps=[{"client_id": client_id, "client_secret": secret, "capabilities": {"webhooks": webhooks}}]
    )
    control.seed(seed)
    account = seed["liveperson"]["accounts"][0]["id"]
    form = f"client_id={client_id}&client_secret={secret}"
    token = transport.send(
        "POST",
        f"/sentinel/api/account/{account}/app/token",
        params={"v": "1.0", "grant_type": "client_credentials"},
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()["access_token"]
    jws = transport.send(
        "POST",
        f"/api/account/{account}/consumer",
        params={"v": "1.0"},
        json={"ext_consumer_id": "bench"},
        headers={"Authorization": token},
    ).json()["token"]
    headers = {"Authorization": token, "X-LP-ON-BEHALF": jws}
    path = f"/api/account/{account}/messaging/consumer/conversation"
    opened = transport.send(
        "POST",
        path,
        params={"v": "3"},
        headers=headers,
        json=[
            {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}},
            {"kind": "req", "id": "2", "type": "cm.ConsumerRequestConversation", "body": {}},
        ],
    )
    body = {
        "kind": "req",
        "id": "3",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": opened.json()[1]["body"]["conversationId"],
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"},
        },
    }

    def post() -> None:
        reply = transport.send("POST", path + "/send", params={"v": "3"}, headers=headers, json=body)
        if reply.status != 200:
            raise RuntimeError(f"the post was refused: {reply.status} {reply.text}")

    return post


def measure_alternating(pair: Pair, iterations: int) -> dict[str, Stats]:
    warm_up(pair.emulator, pair.baseline)
    samples: dict[str, list[float]] = {"emulator": [], "baseline": []}
    forward = ((pair.baseline, samples["baseline"]), (pair.emulator, samples["emulator"]))
    clock = time.perf_counter
    gc.collect()
    for number in range(iterations):
        for operation, kept in forward[::-1] if number % 2 else forward:
            start = clock()
            operation()
            kept.append(clock() - start)
    return {side: Stats.of(kept) for side, kept in samples.items()}


def one_round(delay: float, iterations: int) -> tuple[dict[str, Stats], int]:
    """One round on a fresh emulator and receiver: the figures, and how many deliveries the round queued."""
    app = create_app(EmulatorConfig())
    transport = AppTransport(app)
    control = EmulatorClient(namespace=f"bench-{secrets.token_hex(4)}", transport=transport)
    receiver = Receiver.start(delay)
    try:
        pair = Pair("post", connector(control, transport, receiver.url), connector(control, transport, None))
        stats = measure_alternating(pair, iterations)
        queued = len(control.deliveries())
    finally:
        control.reset()
        receiver.stop()
    return stats, queued


LABELS = {  # key -> section, emulator label, baseline label, iterations, receiver delay, target
    "fast": (
        "a",
        "POST send, 5 webhooks, receiver answers at once",
        "the same post, no webhooks",
        ITERATIONS,
        0.0,
        RATIO_TARGET,
    ),
    "slow": (
        "b",
        f"POST send, 5 webhooks, receiver answers in {SLOW_RECEIVER_SECONDS * 1000:.0f} ms",
        "the same post, no webhooks",
        SLOW_ITERATIONS,
        SLOW_RECEIVER_SECONDS,
        None,
    ),
}


def rounds_of(run: Run, key: str) -> Iterator[dict[str, Stats]]:
    return (r[key] for r in run.rounds)


def summarise(run: Run) -> list[Figure]:
    figures = []
    for key, (section, emulator_label, baseline_label, _, _, target) in LABELS.items():
        pairs = list(rounds_of(run, key))
        figures += [
            figure(section, emulator_label, "ms", [(p["emulator"].median_ms, p["emulator"].p99_ms) for p in pairs]),
            figure(
                section,
                f"  baseline: {baseline_label}",
                "ms",
                [(p["baseline"].median_ms, p["baseline"].p99_ms) for p in pairs],
            ),
            figure(
                section,
                "  ratio webhooks / none",
                "x",
                [
                    (p["emulator"].median_ms / p["baseline"].median_ms, p["emulator"].p99_ms / p["baseline"].p99_ms)
                    for p in pairs
                ],
                target=target,
            ),
        ]
    return figures


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)
    started = time.perf_counter()
    run = Run()
    queued: dict[str, list[int]] = {key: [] for key in LABELS}
    for number in range(1, args.rounds + 1):
        print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
        results: dict[str, Any] = {}
        for key, (_, _, _, iterations, delay, _) in LABELS.items():
            results[key], count = one_round(delay, iterations)
            queued[key].append(count)
        run.rounds.append(results)
    figures = summarise(run)
    elapsed = time.perf_counter() - started
    print(table(figures, args.rounds))
    print(
        f"\na: {ITERATIONS}, b: {SLOW_ITERATIONS} posts per round and side, alternating one by one; p99 over those samples;"
        f" deliveries queued per round: {queued}"
    )
    misses = [f.name.strip() for f in figures if f.result == "MISS"]
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
                "slow_iterations": SLOW_ITERATIONS,
                "slow_receiver_s": SLOW_RECEIVER_SECONDS,
            },
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "queued": queued,
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
