"""Soak benchmark: the standalone server's memory (RSS) under a long run of mixed load.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_soak.py [--duration SECONDS] [--clients N] [--json PATH]

Starts `python -m emulator serve` (demo seed, plus a Mindbehind company seeded through the control API),
then N client threads loop, each request a new per-request record: LivePerson `anonymous/authorize` (a new
consumer) and `authenticate?v=3.0` with its token, Mindbehind `mbWebChat/token` (a new client token) and an
anonymous web chat session, and a health call. The server's RSS (/proc/PID/status) is sampled every
SAMPLE_SECONDS; the table prints each sample, and the ratio of the last one to the first one after
WARMUP_SECONDS (the journal fills its 10,000 entries in that time, then stays at them). Flat memory: a
ratio near 1. `--duration 600` is the ten-minute run; the default is shorter. `--rounds` is accepted (and
ignored) so that benchmarks/run.py can call it like the others.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ACCOUNT, CONNECTOR = "12345678", "2468"  # the demo seed's
COMPANY, CHANNEL, MANAGEMENT_TOKEN = "soak-co", "soak-web", "soak-management-token"
SAMPLE_SECONDS = 5.0
WARMUP_SECONDS = 30.0
LISTENING = re.compile(r"listening on (http://\S+)")


def rss_kib(pid: int) -> int:
    """The process's resident set size, KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def start_server() -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    for line in server.stdout:  # type: ignore[union-attr]
        found = LISTENING.search(line)
        if found:
            threading.Thread(target=server.stdout.read, daemon=True).start()  # type: ignore[union-attr]
            return server, found.group(1)
    raise RuntimeError("the server did not start")


def seed_mindbehind(base: str) -> None:
    channel = {"id": CHANNEL, "type": "mbWebChat", "management_token": MANAGEMENT_TOKEN}
    reply = requests.post(f"{base}/__emulator/seed", json={"mindbehind": {"companies": [{"id": COMPANY, "channels": [channel]}]}}, timeout=10)
    reply.raise_for_status()


def one_round(session: requests.Session, base: str, n: int) -> int:
    """One pass of the mixed load; the requests made."""
    ext = session.post(f"{base}/api/account/{ACCOUNT}/anonymous/authorize", json={}, timeout=10).json()["token"]
    session.post(f"{base}/api/account/{ACCOUNT}/app/{CONNECTOR}/authenticate", params={"v": "3.0"}, json={"id_token": ext}, timeout=10)
    session.post(
        f"{base}/external/v1/incoming/mbWebChat/token", headers={"apiToken": MANAGEMENT_TOKEN},
        json={"clientID": f"client-{n}", "channelID": CHANNEL}, timeout=10,
    )  # fmt: skip
    session.post(f"{base}/__emulator/mindbehind/webchat/sessions", json={"channelID": CHANNEL, "auth": "anonymous"}, timeout=10)
    session.get(f"{base}/__emulator/health", timeout=10)
    return 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120; 600 for ten minutes)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--rounds", type=int, default=1, help="ignored: one soak per run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures there")
    args = parser.parse_args(argv)
    server, base = start_server()
    try:
        seed_mindbehind(base)
        stop = threading.Event()
        counts = [0] * args.clients

        def client(index: int) -> None:
            session = requests.Session()
            n = 0
            while not stop.is_set():
                counts[index] += one_round(session, base, n * args.clients + index)
                n += 1

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[dict] = []
        while (elapsed := time.monotonic() - started) < args.duration:
            stop.wait(SAMPLE_SECONDS)
            samples.append({"elapsed_s": round(time.monotonic() - started, 1), "rss_kib": rss_kib(server.pid), "requests": sum(counts)})
            print(f"{samples[-1]['elapsed_s']:>7.1f} s  RSS {samples[-1]['rss_kib'] / 1024:7.1f} MiB  requests {samples[-1]['requests']:>8}", flush=True)
        stop.set()
        for thread in threads:
            thread.join(10)
    finally:
        server.terminate()
        server.wait(30)
    after_warmup = next((s for s in samples if s["elapsed_s"] >= WARMUP_SECONDS), samples[0])
    ratio = samples[-1]["rss_kib"] / after_warmup["rss_kib"]
    print(f"RSS last / first after {WARMUP_SECONDS:g} s warm-up: {ratio:.3f} "
          f"({after_warmup['rss_kib'] / 1024:.1f} -> {samples[-1]['rss_kib'] / 1024:.1f} MiB); {samples[-1]['requests']} requests")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"duration_s": args.duration, "clients": args.clients, "samples": samples, "rss_ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
