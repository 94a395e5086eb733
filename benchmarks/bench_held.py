"""Held-workers benchmark: health and control calls while every provider worker is held by a fault, or busy.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_held.py [--rounds N] [--json PATH]

An in-process waitress server (`BackgroundServer`, DEFAULT_THREADS provider workers); per round, CALLS of each
control call one after another (health, `GET /__emulator/faults`, `DELETE /__emulator/faults` of a namespace
without rules) in three states:

a) idle: nothing else runs (the baseline);
b) held: HELD provider requests (twice the provider workers) hang on a `hang` fault;
c) busy: `wrk -t2 -c16` (when wrk is on the PATH) keeps every provider worker signing LivePerson RS256 JWTs.

At the end of b) the `DELETE /__emulator/faults` that clears the hang itself is timed, and how long until every
held request came back. The table gives p50 / p99 / max per state and call; the target: every call answers
within 100 ms (p99) while the provider workers are held or busy. The measuring client runs in the server's
process (it shares the interpreter lock with the server's workers): the figures include that contention.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import bench_arguments, environment

from emulator.app import create_app
from emulator.client import EmulatorClient
from emulator.serving.server import DEFAULT_THREADS, BackgroundServer

ACCOUNT = "81000001"
HELD = DEFAULT_THREADS * 2
CALLS = 200
TARGET_MS = 100.0
CALLS_MEASURED = {
    "health": ("GET", "/__emulator/health"),
    "GET faults": ("GET", "/__emulator/faults?namespace=held"),
    "DELETE faults (another namespace)": ("DELETE", "/__emulator/faults?namespace=held-other"),
}
BUSY_SCRIPT = 'wrk.method = "POST"\n'


def latencies_ms(session: requests.Session, url: str, method: str) -> list[float]:
    found = []
    for _ in range(CALLS):
        started = time.perf_counter()
        session.request(method, url, timeout=30).raise_for_status()
        found.append((time.perf_counter() - started) * 1000)
    return found


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p99": ordered[max(0, int(len(ordered) * 0.99) - 1)], "max": ordered[-1]}


def measure_all(server: BackgroundServer) -> dict:
    session = requests.Session()
    return {
        name: summary(latencies_ms(session, server.url + path, method))
        for name, (method, path) in CALLS_MEASURED.items()
    }


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


def held_state(server: BackgroundServer, control: EmulatorClient) -> tuple[dict, dict]:
    """The calls while HELD requests hang; then the DELETE that clears the hang, and the release."""
    control.add_fault("hang", duration="60s")
    threads = hold(server)
    figures = measure_all(server)
    started = time.perf_counter()
    control.clear_faults()
    cleared = time.perf_counter()
    for thread in threads:
        thread.join(30)
    released = time.perf_counter()
    return figures, {"clear_ms": (cleared - started) * 1000, "all_released_ms": (released - started) * 1000}


def busy_state(server: BackgroundServer, script: Path) -> dict | None:
    """The calls while wrk keeps every provider worker signing JWTs (None without wrk)."""
    if shutil.which("wrk") is None:
        return None
    url = f"{server.url}/api/account/{ACCOUNT}/anonymous/authorize"
    load = subprocess.Popen(["wrk", "-t2", "-c16", "-d120s", "-s", str(script), url], stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # the load is under way
        return measure_all(server)
    finally:
        load.terminate()
        load.wait()


def one_round(server: BackgroundServer, control: EmulatorClient, script: Path) -> dict:
    idle = measure_all(server)
    held, clearing = held_state(server, control)
    busy = busy_state(server, script)
    states = {"idle": idle, "held": held, **({"busy": busy} if busy is not None else {})}
    return {"states": states, "clearing": clearing}


def targets(rounds: list[dict]) -> list[dict]:
    """Per state (held, busy) and call: the p50 and p99 medians over rounds, against the 100 ms bound."""
    rows = []
    for state in ("idle", "held", "busy"):
        for name in CALLS_MEASURED:
            found = [r["states"][state][name] for r in rounds if state in r["states"]]
            if not found:
                continue
            p50s, p99s = [f["p50"] for f in found], [f["p99"] for f in found]
            p99 = statistics.median(p99s)
            rows.append(
                {
                    "state": state,
                    "call": name,
                    "p50_ms": statistics.median(p50s),
                    "p99_ms": p99,
                    "p99_range": [min(p99s), max(p99s)],
                    "max_ms": max(f["max"] for f in found),
                    "met": None if state == "idle" else p99 <= TARGET_MS,
                }
            )
    clears = [r["clearing"]["clear_ms"] for r in rounds]
    releases = [r["clearing"]["all_released_ms"] for r in rounds]
    rows.append(
        {
            "state": "held",
            "call": "DELETE faults that clears the hang",
            "p50_ms": statistics.median(clears),
            "p99_ms": max(clears),
            "p99_range": [min(clears), max(clears)],
            "max_ms": max(clears),
            "met": max(clears) <= TARGET_MS,
            "all_released_ms": statistics.median(releases),
        }
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-held-") as folder, BackgroundServer(create_app()) as server:
        script = Path(folder) / "post.lua"
        script.write_text(BUSY_SCRIPT)
        control = EmulatorClient(server.url, namespace="held")
        control.seed({"liveperson": {"accounts": [{"id": ACCOUNT}]}})
        for number in range(args.rounds):
            rounds.append(one_round(server, control, script))
            print(f"round {number + 1} done", file=sys.stderr, flush=True)
    rows = targets(rounds)
    print(
        f"{HELD} requests held ({DEFAULT_THREADS} provider workers); busy: wrk -t2 -c16 on anonymous/authorize; {CALLS} calls each"
    )
    print(
        "| state | call | p50 ms | p99 ms (rounds' range) | max ms | target p99 | met |\n|---|---|---|---|---|---|---|"
    )
    for row in rows:
        low, high = row["p99_range"]
        met = "-" if row["met"] is None else "yes" if row["met"] else "NO"
        target = "-" if row["met"] is None else f"<= {TARGET_MS:g}"
        print(
            f"| {row['state']} | {row['call']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} ({low:.2f}–{high:.2f}) | {row['max_ms']:.2f} | {target} | {met} |"
        )
    release = rows[-1]["all_released_ms"]
    print(
        f"after the clearing DELETE, every held request was back within {release:.0f} ms (median over {len(rounds)} rounds)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "held_requests": HELD,
            "calls": CALLS,
            "targets": rows,
            "rounds": rounds,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
