"""Run every benchmark of this folder: each one's table printed, its JSON and a combined JSON written.

Run from the repository root with the project's virtualenv:

    python benchmarks/run.py [--rounds N] [--only NAME[,NAME]] [--quick]

Each benchmark runs as a subprocess of this interpreter with `--rounds N --json benchmarks/results/NAME.json`
(its table goes to stdout, its progress to stderr, as when run alone); then `benchmarks/results/all.json`
holds every benchmark's JSON under its name, or why it did not run. `peers` needs wrk on the PATH and is
skipped without it, as is `servers`. `--quick`: one round, and 3-second wrk runs for `peers` and `servers` (the
benchmarks with a duration). Benchmarks: foundation, startup, sunshine, liveperson, webhooks, mindbehind, state,
dashboard, reach, peers, servers, soak (the server's RSS under two minutes of mixed load; `bench_soak.py
--duration 600` alone for ten), held (health and control latency while every provider worker is held by a fault or busy).

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # gitignored
BENCHMARKS = (
    "foundation",
    "startup",
    "sunshine",
    "liveperson",
    "webhooks",
    "mindbehind",
    "state",
    "dashboard",
    "reach",
    "peers",
    "servers",
    "soak",
    "held",
)
WRK_BENCHMARKS = ("peers", "servers")
QUICK_PEERS_DURATION = "3"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """`--rounds`, `--only`, `--quick`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each benchmark (default 3)")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these, of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="one round, shorter wrk runs for peers")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown or not chosen:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(BENCHMARKS)}"
        )
    args.chosen = [name for name in BENCHMARKS if name in chosen]
    if args.quick:
        args.rounds = 1
    return args


def command(name: str, rounds: int, quick: bool, output: Path) -> list[str]:
    """The benchmark's command line."""
    extra = ["--duration", QUICK_PEERS_DURATION] if name in WRK_BENCHMARKS and quick else []
    return [sys.executable, str(HERE / f"bench_{name}.py"), "--rounds", str(rounds), "--json", str(output), *extra]


def not_run(name: str) -> str | None:
    """Why the benchmark cannot run here, or None."""
    if name in WRK_BENCHMARKS and shutil.which("wrk") is None:
        return "not run: wrk missing (apt-get install wrk)"
    return None


def run_one(name: str, rounds: int, quick: bool) -> dict:
    """Run one benchmark (its output passes through): its JSON document, or what went wrong."""
    reason = not_run(name)
    if reason is not None:
        print(f"{name}: {reason}", flush=True)
        return {"skipped": reason}
    output = RESULTS / f"{name}.json"
    output.unlink(missing_ok=True)
    print(f"\n=== {name} ({rounds} round{'s' * (rounds != 1)}) ===", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command(name, rounds, quick, output), cwd=HERE.parent).returncode
    elapsed = time.perf_counter() - started
    if code != 0 or not output.exists():
        print(f"{name}: failed (exit code {code})", flush=True)
        return {"failed": f"exit code {code}", "elapsed_s": elapsed}
    return {**json.loads(output.read_text()), "wall_s": elapsed}


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    RESULTS.mkdir(exist_ok=True)
    started_at, started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    results = {name: run_one(name, args.rounds, args.quick) for name in args.chosen}
    combined = {
        "started": started_at,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "rounds": args.rounds,
        "quick": args.quick,
        "elapsed_s": time.perf_counter() - started,
        "benchmarks": results,
    }
    (RESULTS / "all.json").write_text(json.dumps(combined, indent=2) + "\n")
    failed = [name for name, result in results.items() if "failed" in result]
    skipped = [name for name, result in results.items() if "skipped" in result]
    print(
        f"\n{len(results) - len(failed) - len(skipped)} run, {len(skipped)} not run, {len(failed)} failed"
        f"{' (' + ', '.join(failed) + ')' if failed else ''}; JSON in {RESULTS.relative_to(HERE.parent)}/"
        f" (all.json and one per benchmark), {combined['elapsed_s']:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
