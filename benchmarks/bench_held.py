"""Held-workers benchmark: health and control calls while every provider worker is held by a fault.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_held.py [--rounds N] [--json PATH]

An in-process waitress server (`BackgroundServer`, DEFAULT_THREADS provider workers); per round: CALLS
health calls and CALLS `GET /__emulator/faults` calls one after another with nothing held (the baseline),
then again while HELD provider requests (twice the provider workers) hang on a `hang` fault, then the fault
is cleared. The table gives p50 / p99 / max per case and the ratio of the held p99 to the baseline's (same
round); the target is every held call under 100 ms.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

from emulator.app import create_app
from emulator.client import EmulatorClient
from emulator.serving.server import DEFAULT_THREADS, BackgroundServer

ACCOUNT = "81000001"
HELD = DEFAULT_THREADS * 2
CALLS = 200
CASES = {"health": "/__emulator/health", "control (GET faults)": "/__emulator/faults"}


def latencies_ms(session: requests.Session, url: str) -> list[float]:
    found = []
    for _ in range(CALLS):
        started = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        found.append((time.perf_counter() - started) * 1000)
    return found


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99) - 1], "max": ordered[-1]}


def hold(server: BackgroundServer) -> list[threading.Thread]:
    url = f"{server.url}/api/account/{ACCOUNT}/service/idp/baseURI.json"

    def call() -> None:
        try:
            requests.get(url, timeout=60)
        except requests.RequestException:
            pass  # a hang ends in a reset

    threads = [threading.Thread(target=call, daemon=True) for _ in range(HELD)]
    for thread in threads:
        thread.start()
    if not server.dispatcher.wait_for_holds(HELD, 30):
        raise RuntimeError("the held requests did not all arrive")
    return threads


def one_round(server: BackgroundServer, control: EmulatorClient) -> dict:
    session = requests.Session()
    result = {}
    baseline = {name: summary(latencies_ms(session, server.url + path)) for name, path in CASES.items()}
    control.add_fault("hang", duration="60s")
    threads = hold(server)
    held = {name: summary(latencies_ms(session, server.url + path)) for name, path in CASES.items()}
    control.clear_faults()
    for thread in threads:
        thread.join(30)
    for name in CASES:
        result[name] = {"baseline": baseline[name], "held": held[name], "p99_ratio": held[name]["p99"] / baseline[name]["p99"]}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    rounds = []
    with BackgroundServer(create_app()) as server:
        control = EmulatorClient(server.url, namespace="held")
        control.seed({"liveperson": {"accounts": [{"id": ACCOUNT}]}})
        for number in range(args.rounds):
            rounds.append(one_round(server, control))
            print(f"round {number + 1} done", file=sys.stderr, flush=True)
    print(f"{'case':<22} {'baseline p50/p99/max ms':>26} {'held p50/p99/max ms':>24} {'p99 ratio':>10}")
    for number, result in enumerate(rounds, 1):
        for name, figures in result.items():
            base, held = figures["baseline"], figures["held"]
            print(
                f"{name:<22} {base['p50']:>8.2f} {base['p99']:>8.2f} {base['max']:>8.2f} "
                f"{held['p50']:>7.2f} {held['p99']:>7.2f} {held['max']:>8.2f} {figures['p99_ratio']:>9.2f}x  (round {number})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"held_requests": HELD, "calls": CALLS, "rounds": rounds}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
