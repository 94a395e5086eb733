"""Dashboard benchmark: what an open dashboard page costs each request, and what the request log costs.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_dashboard.py [--rounds N] [--json PATH]

i)   Over HTTP (waitress BackgroundServer, keep-alive client), LivePerson `POST anonymous/authorize` with
     the journal already holding JOURNAL_FILL requests of the namespace: PAIRS pairs of blocks of BLOCK
     requests, page closed then page open; medians over each kind's pooled requests. The open page is a thread doing what
     dashboard.js does every poll, on its own connection: `GET /requests?after=<last seen>` then
     `GET /clock` (the Requests tab), waiting POLL_SECONDS between polls (the page's 1 s, and a 50 ms
     one that magnifies the cost). Ratio: open over closed, per round.
ii)  The poll itself: `GET /requests` with nothing new, and the first load of a page (200 masked entries).
iii) In process (Flask test client), the same request with the console request log installed (logging to
     a null stream) over without it, interleaved one by one.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import io
import json
import logging
import statistics
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_foundation import (
    HttpClient,
    Stats,
    bench_arguments,
    environment,
    lp_account_seed,
    timed,
    warm_up,
)

from emulator import request_log
from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient
from emulator.core.clock import wall_timer
from emulator.serving.server import BackgroundServer

JOURNAL_FILL = 5_000
BLOCK = 100
PAIRS = 5
POLLS = {"page open, 1 s poll": 1.0, "page open, 50 ms poll": 0.05}
ITERATIONS = 300


class OpenPage:
    """A thread polling as the dashboard's Requests tab does, until stopped; it counts its polls."""

    def __init__(self, server: BackgroundServer, namespace: str, every: float) -> None:
        self.client, self.namespace, self.every = HttpClient(server), namespace, every
        self.polls, self.last_seq = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> None:
        answer = self.client.get(
            "/__emulator/requests", query_string={"namespace": self.namespace, "after": self.last_seq}
        ).get_json()
        self.last_seq = answer["last_seq"]
        self.client.get("/__emulator/clock", query_string={"namespace": self.namespace})
        self.polls += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.every)

    def __enter__(self) -> OpenPage:
        self.poll()  # the first load, outside the timing
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)
    started = wall_timer()
    app = create_app()
    control = EmulatorClient(transport=AppTransport(app), namespace="dashboard-bench")
    seed = lp_account_seed()
    account = seed["liveperson"]["accounts"][0]["id"]
    control.seed(seed)
    path = f"/api/account/{account}/anonymous/authorize"
    filler = app.test_client()
    for _ in range(JOURNAL_FILL):
        filler.post(path)
    rounds: list[dict] = []
    with BackgroundServer(app) as server:
        client = HttpClient(server)
        request = partial(client.post, path)
        warm_up(request)
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            figures: dict[str, dict] = {}
            for name, every in POLLS.items():
                closed_samples, open_samples, polls = [], [], 0
                for _ in range(PAIRS):
                    closed_samples += timed(request, BLOCK)
                    with OpenPage(server, "dashboard-bench", every) as page:
                        open_samples += timed(request, BLOCK)
                    polls += page.polls - 1  # not the first load, made before the block
                closed, opened = Stats.of(closed_samples), Stats.of(open_samples)
                figures[name] = {
                    "closed_ms": closed.median_ms,
                    "open_ms": opened.median_ms,
                    "ratio": opened.median_ms / closed.median_ms,
                    "polls": polls,
                }
            poller = OpenPage(server, "dashboard-bench", 1.0)
            poller.poll()  # caught up: the polls timed find nothing new
            figures["poll, nothing new (ms)"] = Stats.of(timed(poller.poll, 50)).median_ms
            figures["first load, 200 masked entries (ms)"] = Stats.of(timed(first_load(server), 10)).median_ms
            figures["request log"] = request_log_ratio(path, account)
            rounds.append(figures)
    elapsed = wall_timer() - started
    print(table(rounds))
    print(
        f"\njournal holding {JOURNAL_FILL} entries; {PAIRS} pairs of {BLOCK}-request blocks; ratios per round, medians over {args.rounds} rounds ({elapsed:.0f} s)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {"rounds": args.rounds, "block": BLOCK, "journal": JOURNAL_FILL},
            "rounds": rounds,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


def first_load(server: BackgroundServer) -> Callable[[], object]:
    """What the page asks when it opens: the newest 200 entries, masked."""
    client = HttpClient(server)
    return lambda: client.get("/__emulator/requests", query_string={"namespace": "dashboard-bench"})


def request_log_ratio(path: str, account: str) -> dict:
    """Median of `POST anonymous/authorize` with the request log installed over without, interleaved."""
    apps = {}
    for logged in (False, True):
        app = create_app()
        if logged:
            request_log.install(app)  # before the app's first request, as Flask requires
        EmulatorClient(transport=AppTransport(app)).seed({"liveperson": {"accounts": [{"id": account}]}})
        apps[logged] = app.test_client()
    logger = logging.getLogger("emulator.requests")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    samples: dict[bool, list[float]] = {False: [], True: []}
    try:
        for _ in range(ITERATIONS):
            for logged, client in apps.items():
                begun = wall_timer()
                client.post(path)
                samples[logged].append(wall_timer() - begun)
    finally:
        logger.removeHandler(handler)
    without, with_log = statistics.median(samples[False]), statistics.median(samples[True])
    return {"without_ms": without * 1000, "with_ms": with_log * 1000, "ratio": with_log / without}


def table(rounds: list[dict]) -> str:
    def median(pick: Callable[[dict], float]) -> float:
        return statistics.median(pick(r) for r in rounds)

    def of(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    lines = ["figure | median", "--- | ---"]
    for name in POLLS:
        lines.append(
            f"{name}: request over HTTP, closed -> open (ms) | {of(name, 'closed_ms'):.2f} -> {of(name, 'open_ms'):.2f}"
        )
        lines.append(
            f"{name}: open / closed | {of(name, 'ratio'):.3f}x ({of(name, 'polls'):.0f} polls during the {PAIRS * BLOCK} open requests)"
        )
    lines.append(f"one poll with nothing new (ms) | {median(lambda r: r['poll, nothing new (ms)']):.2f}")
    lines.append(
        f"first load, 200 masked entries (ms) | {median(lambda r: r['first load, 200 masked entries (ms)']):.1f}"
    )
    lines.append(f"request log installed / not, in process | {median(lambda r: r['request log']['ratio']):.3f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
