"""Server candidates for the standalone emulator and the fixtures, over real sockets, with one load generator.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_servers.py [--rounds N] [--duration S] [--json PATH]

Each round starts each candidate fresh in a process of its own, serving the emulator with the demo seed on
127.0.0.1, in turn (alternating the order from round to round):

a) waitress, as `serve` and `emulator_server` today (`emulator.serving.server.run_server`: 8 provider threads,
   the control pool, fault-aware tasks, WebSocket upgrades lent their socket);
b) Werkzeug's threaded server, as `serve --tls-*` and `emulator_tls_server` use it, here without TLS
   (`emulator.serving.server`'s fault-dropping wrapper, no access log).

For each: `wrk -t2 -c16` (req/s) and `wrk -t1 -c1` (p50, p99) on a plain GET (LivePerson's
`service/idp/baseURI.json`) and a token issue (`anonymous/authorize`, signs an RS256 JWT); then WebSocket
round trips: one consumer socket (`Authorization: jwt`), sequential `GetClock` request/answer pairs for
the duration (round trips/s). The ratio column is the row's figure over waitress's in the same round
(req/s and round trips/s: >1 is faster than waitress; latency: >1 is slower); medians over rounds.
The machine is noisy: compare only ratios taken in one run. Needs wrk (apt-get install wrk).

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_peers, also when run from elsewhere

from bench_foundation import environment
from bench_peers import (
    DEMO_ACCOUNT,
    DEMO_CONNECTOR,
    Endpoint,
    Server,
    call,
    json_headers,
    lua_script,
    start,
    stop,
    wrk,
)

CANDIDATES = ("waitress", "werkzeug")
CONSUMER_SOCKET = "/ws_api/account/{account}/messaging/consumer?v=3"
WARMUP_S = 1.0


def serve(candidate: str) -> None:
    """Serve the demo-seeded emulator on `candidate`, printing the banner bench_peers reads."""
    from emulator import DEMO_SEED_PATH
    from emulator.app import create_app
    from emulator.config import EmulatorConfig, load_seed_file
    from emulator.serving.server import freeze_startup_objects, run_server
    from emulator.serving.tls_handler import dropping_aborts

    app = create_app(EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH)))

    def announce(port: int) -> None:
        print(f"listening on http://127.0.0.1:{port}", flush=True)

    if candidate == "waitress":
        return run_server(app, "127.0.0.1", 0, on_ready=announce)
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, dropping_aborts(app), threaded=True, request_handler=QuietHandler)
    announce(server.server_port)
    freeze_startup_objects()
    server.serve_forever()


def endpoints() -> list[Endpoint]:
    idp = f"/api/account/{DEMO_ACCOUNT}"
    return [
        Endpoint("GET service/idp/baseURI.json", "GET", f"{idp}/service/idp/baseURI.json", 200, "get"),
        Endpoint("POST anonymous/authorize (issues RS256 JWT)", "POST", f"{idp}/anonymous/authorize", 200, "sign"),
    ]


def consumer_jwt(base: str) -> str:
    """An LP JWT for the demo account: an anonymous external JWT, exchanged."""
    idp = f"/api/account/{DEMO_ACCOUNT}"
    status, body = call(base, "POST", f"{idp}/anonymous/authorize")
    assert status == 200, body
    payload = json.dumps({"id_token": json.loads(body)["token"]})
    status, body = call(base, "POST", f"{idp}/app/{DEMO_CONNECTOR}/authenticate?v=3.0", payload, json_headers())
    assert status == 200, body
    return json.loads(body)["token"]


def websocket_round_trips(base: str, seconds: float) -> float:
    """GetClock request/answer pairs per second on one consumer socket."""
    from simple_websocket import Client

    url = base.replace("http://", "ws://") + CONSUMER_SOCKET.format(account=DEMO_ACCOUNT)
    ws = Client.connect(url, headers={"Authorization": f"jwt {consumer_jwt(base)}"})
    try:
        count, frame = 0, json.dumps({"kind": "req", "id": "1", "type": "GetClock", "body": {}})
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            ws.send(frame)
            answer = json.loads(ws.receive(timeout=10))
            assert answer.get("code") == 200, answer
            count += 1
        return count / (time.perf_counter() - started)
    finally:
        ws.close()


def measure(candidate: str, seconds: float, scripts: Path) -> dict[str, float]:
    def command(port: int) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", candidate]

    running = start(Server(candidate, "", command, lambda base: [], banner=True), scripts / f"{candidate}.log")
    figures: dict[str, float] = {}
    try:
        for endpoint in endpoints():
            status, body = call(running.base, endpoint.method, endpoint.path)
            assert status == endpoint.status, body
            script = scripts / f"{candidate}-{endpoint.baseline}.lua"
            script.write_text(lua_script(endpoint))
            wrk(running.base, endpoint, script, 2, 16, WARMUP_S)
            load, single = (
                wrk(running.base, endpoint, script, 2, 16, seconds),
                wrk(running.base, endpoint, script, 1, 1, seconds),
            )
            if sum(load.errors.values()) + sum(single.errors.values()):
                raise RuntimeError(f"{candidate} {endpoint.name}: errors {load.errors} {single.errors}")
            figures[f"{endpoint.name} | c16 req/s"] = load.rate
            figures[f"{endpoint.name} | c1 p50 ms"] = single.p50_us / 1000
            figures[f"{endpoint.name} | c1 p99 ms"] = single.p99_us / 1000
        figures["consumer WebSocket GetClock | round trips/s"] = websocket_round_trips(running.base, seconds)
    finally:
        stop(running.process)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each wrk run and of the WebSocket run")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--serve", choices=CANDIDATES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.rounds):
            order = CANDIDATES if number % 2 == 0 else CANDIDATES[::-1]
            rounds.append({candidate: measure(candidate, args.duration, Path(folder)) for candidate in order})
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    rows = []
    for metric in rounds[0]["waitress"]:
        for candidate in CANDIDATES:
            values = [one[candidate][metric] for one in rounds]
            ratios = [one[candidate][metric] / one["waitress"][metric] for one in rounds]
            rows.append(
                {
                    "metric": metric,
                    "server": candidate,
                    "median": statistics.median(values),
                    "ratio": statistics.median(ratios),
                }
            )
    print(
        f"Servers, {args.rounds} rounds of {args.duration:g} s each (medians; ratio over waitress in the same round)\n"
    )
    print("| request | figure | server | median | ratio |\n|---|---|---|---:|---:|")
    for row in rows:
        request_name, figure = row["metric"].split(" | ")
        print(f"| {request_name} | {figure} | {row['server']} | {row['median']:,.2f} | {row['ratio']:.2f}x |")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"environment": environment(), "rows": rows, "rounds": rounds}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
