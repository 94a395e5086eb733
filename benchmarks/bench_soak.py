"""Soak benchmark: the emulator's memory (RSS) under a long run of mixed load.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_soak.py [--duration SECONDS] [--bound N] [--json PATH]

One app (the demo seed, plus a Mindbehind company), driven in-process through Flask's test client (over
HTTP this machine serves too few requests a second to reach the bounds within ten minutes): a loop in which
each request adds a per-request record: LivePerson `anonymous/authorize` (a new consumer) and
`authenticate?v=3.0` with its token, Mindbehind `mbWebChat/token` (a new client token, for one of CLIENTS
named clients: a named client is data a test reads back, kept) and an anonymous web chat session (a new
session and anonymous client), and a health call. The process's RSS (/proc/self/status) is
sampled every SAMPLE_SECONDS; the table prints each sample, and the ratio of the last one to the one at
WARMUP_SECONDS (by then the journal holds its 10,000 entries and the records their bounds: 10,000 of each;
the namespace's token registry keeps 50,000, two tokens a round).
Flat memory: a ratio near 1. `--duration 600` is the ten-minute run; the default is shorter. `--bound N`
lowers those bounds (and the journal's capacity, and the registry's to 5 N) to N, the same rules with smaller numbers, for a machine
too slow to reach 10,000 within the run. `--rounds` is accepted (and ignored) so that benchmarks/run.py can
call it like the others.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from emulator import DEMO_SEED_PATH
from emulator.app import create_app
from emulator.config import EmulatorConfig, load_seed_file
from emulator.core import lifecycle
from emulator.providers.liveperson import models as liveperson_models
from emulator.providers.mindbehind import models as mindbehind_models

ACCOUNT, CONNECTOR = "12345678", "2468"  # the demo seed's
COMPANY, CHANNEL, MANAGEMENT_TOKEN = "soak-co", "soak-web", "soak-management-token"
CLIENTS = 100
SAMPLE_SECONDS = 10.0
WARMUP_SECONDS = 120.0


def rss_kib() -> int:
    """This process's resident set size, KiB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def one_round(http, n: int) -> int:
    """One pass of the mixed load; the requests made."""
    ext = http.post(f"/api/account/{ACCOUNT}/anonymous/authorize", json={}).get_json()["token"]
    http.post(f"/api/account/{ACCOUNT}/app/{CONNECTOR}/authenticate", query_string={"v": "3.0"}, json={"id_token": ext})
    http.post(
        "/external/v1/incoming/mbWebChat/token",
        headers={"apiToken": MANAGEMENT_TOKEN},
        json={"clientID": f"client-{n % CLIENTS}", "channelID": CHANNEL},
    )
    http.post("/__emulator/mindbehind/webchat/sessions", json={"channelID": CHANNEL, "auth": "anonymous"})
    http.get("/__emulator/health")
    return 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=240.0, help="seconds of load (default 240; 600 for ten minutes)"
    )
    parser.add_argument("--bound", type=int, help="lower the records' bounds and the journal's capacity to N")
    parser.add_argument("--rounds", type=int, default=1, help="ignored: one soak per run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures there")
    args = parser.parse_args(argv)
    config = EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH))
    if args.bound:
        liveperson_models.MAX_IDLE_ANONYMOUS = args.bound
        lifecycle.REGISTRY_LIMIT = 5 * args.bound
        for name in ("MAX_CLIENT_TOKENS", "MAX_SESSIONS", "MAX_CODES"):
            setattr(mindbehind_models, name, args.bound)
        config = EmulatorConfig(seed=config.seed, journal_capacity=args.bound)
    app = create_app(config)
    http = app.test_client()
    channel = {"id": CHANNEL, "type": "mbWebChat", "management_token": MANAGEMENT_TOKEN}
    http.post("/__emulator/seed", json={"mindbehind": {"companies": [{"id": COMPANY, "channels": [channel]}]}})
    samples: list[dict] = []
    requests_made = rounds = 0
    started = next_sample = time.monotonic()
    while (now := time.monotonic()) - started < args.duration:
        requests_made += one_round(http, rounds)
        rounds += 1
        if now >= next_sample:
            next_sample += SAMPLE_SECONDS
            samples.append({"elapsed_s": round(now - started, 1), "rss_kib": rss_kib(), "requests": requests_made})
            print(
                f"{samples[-1]['elapsed_s']:>7.1f} s  RSS {samples[-1]['rss_kib'] / 1024:7.1f} MiB  requests {requests_made:>8}",
                flush=True,
            )
    state = app.extensions["emulator"].store.namespace("default").state("liveperson")
    consumers = len(state.accounts[ACCOUNT].consumers)
    after_warmup = next((s for s in samples if s["elapsed_s"] >= WARMUP_SECONDS), samples[0])
    ratio = samples[-1]["rss_kib"] / after_warmup["rss_kib"]
    print(
        f"RSS last / at {after_warmup['elapsed_s']:g} s: {ratio:.3f} ({after_warmup['rss_kib'] / 1024:.1f} -> "
        f"{samples[-1]['rss_kib'] / 1024:.1f} MiB); {requests_made} requests; {consumers} LivePerson consumers kept"
    )
    if args.json:
        document = {
            "duration_s": args.duration,
            "bound": args.bound,
            "samples": samples,
            "rss_ratio": ratio,
            "requests": requests_made,
            "consumers_kept": consumers,
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
