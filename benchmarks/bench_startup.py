"""Start-up costs: `serve` from launch to a healthy answer, and what the pytest plugin adds to a test run
that uses none of its fixtures.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_startup.py [--rounds N] [--json PATH]

Every round, strictly alternating so that drift of the machine hits both sides alike:

a) `python -m emulator serve --port N` (demo seed) until `GET /__emulator/health` answers 200, asked every
   2 ms from the launch on (`serve` answers it while it still builds the emulator, before its banner): wall
   time and the process's CPU time (user + system, /proc/PID/stat) at that moment, against the bare Flask
   app on the same waitress server (bench_peers `--serve-bare N`) until it answers;
b) `python -m pytest -q` on one test that uses no fixture, with the plugin (`-p emulator.pytest_plugin`) and
   without it (`-p string`: a module with no hook or fixture, as a control), both with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 so that no other installed plugin adds its own
   start-up and noise (here hypothesis, xdist and others take 3 s): the difference of the medians (wall, and
   CPU of the child process) is what the plugin costs such a run. Twice: with pytest's cache of rewritten
   modules written (as on a developer's machine) and with PYTHONDONTWRITEBYTECODE=1 (as in this project's
   Docker image and many CI images: pytest then parses and rewrites the plugin's modules on every run);
c) in a fresh interpreter that already imported pytest: the CPU time of importing the plugin's modules.

The emulator's bytecode is compiled first (as an installed package has it). Targets: start to healthy
<= 0.5 s; the plugin's cost to a run that uses no fixture <= 50 ms. The machine is noisy: the CPU
times and the differences within a round are steadier than wall times.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import ROOT, bench_arguments, environment, free_port, spawn_until_answers

SPAWNS = 5  # per round and side
PYTEST_RUNS = 15  # per round and side
STARTUP_TARGET_S = 0.5
PLUGIN_TARGET_MS = 50.0
PLUGIN_MODULE = "emulator.pytest_plugin"
SERVE = [sys.executable, "-m", "emulator", "serve", "--port"]  # + the port
BARE = [sys.executable, str(Path(__file__).resolve().parent / "bench_peers.py"), "--serve-bare"]  # + the port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_to_healthy(command: list[str], path: str) -> tuple[float, float]:
    """Wall seconds from launch until `path` answers 200 (asked from the launch on), and the process's CPU
    seconds by then."""
    port = free_port()
    process, seconds = spawn_until_answers(
        [*command, str(port)], port, path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return seconds, cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait()


def pytest_seconds(folder: Path, with_plugin: bool, bytecode: bool) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of the child) of `pytest -q` over one fixture-free test, with or
    without the plugin, no other plugin loaded; `bytecode`: pytest may write its rewritten modules."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "test_plain.py")]
    # without: a stdlib module that does nothing as the plugin, so that both runs pay the one look-up of a `-p`
    # name among the installed distributions' entry points (a run that autoloads plugins pays it anyway)
    command[3:3] = ["-p", PLUGIN_MODULE if with_plugin else "string"]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT)}
    if not bytecode:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True, env=environment)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def plugin_import_cpu_ms() -> float:
    """The plugin's package, which imports every fixture module it registers."""
    code = (
        "import time, pytest\nstarted = time.process_time()\nimport emulator.pytest_plugin\n"
        "print((time.process_time() - started) * 1000)"
    )
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return float(output.strip())


def one_round(folder: Path) -> dict:
    serve, bare = [], []
    for _ in range(SPAWNS):
        serve.append(start_to_healthy(SERVE, "/__emulator/health"))
        bare.append(start_to_healthy(BARE, "/read"))
    figures = {}
    for bytecode, suffix in ((True, ""), (False, "_no_bytecode")):
        with_plugin: list[tuple[float, float]] = []
        without: list[tuple[float, float]] = []
        for index in range(PYTEST_RUNS):
            for plugin in (True, False) if index % 2 == 0 else (False, True):
                (with_plugin if plugin else without).append(pytest_seconds(folder, plugin, bytecode))
        wall_with, cpu_with = (statistics.median(side) for side in zip(*with_plugin, strict=True))
        wall_without, cpu_without = (statistics.median(side) for side in zip(*without, strict=True))
        figures |= {
            f"pytest_with_plugin_s{suffix}": wall_with,
            f"pytest_without_plugin_s{suffix}": wall_without,
            f"plugin_cost_ms{suffix}": (wall_with - wall_without) * 1000,
            f"plugin_cost_cpu_ms{suffix}": (cpu_with - cpu_without) * 1000,
        }
    return {
        "serve_wall_s": statistics.median(w for w, _ in serve),
        "serve_cpu_s": statistics.median(c for _, c in serve),
        "bare_wall_s": statistics.median(w for w, _ in bare),
        "bare_cpu_s": statistics.median(c for _, c in bare),
        **figures,
        "plugin_import_cpu_ms": statistics.median(plugin_import_cpu_ms() for _ in range(3)),
    }


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)
    compileall.compile_dir(ROOT / "emulator", quiet=1)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        (Path(folder) / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            rounds.append(one_round(Path(folder)))
    summary = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    spread = {name: (min(r[name] for r in rounds), max(r[name] for r in rounds)) for name in rounds[0]}
    rows = [
        (
            "serve: launch to healthy, wall s",
            "serve_wall_s",
            f"<= {STARTUP_TARGET_S}",
            summary["serve_wall_s"] <= STARTUP_TARGET_S,
        ),
        ("serve: CPU s by then", "serve_cpu_s", "-", None),
        (
            "bench_peers' bare Flask server (it loads the emulator's modules too): launch to answer, wall s",
            "bare_wall_s",
            "-",
            None,
        ),
        ("that bare server: CPU s by then", "bare_cpu_s", "-", None),
        ("pytest (no other plugin), one plain test, with the plugin: wall s", "pytest_with_plugin_s", "-", None),
        ("the same without it: wall s", "pytest_without_plugin_s", "-", None),
        *(
            (
                f"the plugin's cost to that run, {unit}{case}",
                f"plugin_cost_{key}{suffix}",
                f"<= {PLUGIN_TARGET_MS:g}",
                summary[f"plugin_cost_{key}{suffix}"] <= PLUGIN_TARGET_MS,
            )
            for suffix, case in (("", ""), ("_no_bytecode", ", PYTHONDONTWRITEBYTECODE=1"))
            for key, unit in (("ms", "wall ms"), ("cpu_ms", "CPU ms"))
        ),
        ("importing the plugin's modules, CPU ms", "plugin_import_cpu_ms", "-", None),
    ]
    print("| figure | median (rounds' range) | target | met |\n|---|---|---|---|")
    for label, name, target, met in rows:
        low, high = spread[name]
        print(
            f"| {label} | {summary[name]:.3f} ({low:.3f}–{high:.3f}) | {target} | {'-' if met is None else 'yes' if met else 'NO'} |"
        )
    print(
        f"\n{SPAWNS} spawns and {PYTEST_RUNS} pytest runs per side and round, alternating; medians over {args.rounds} rounds"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {"rounds": args.rounds, "spawns": SPAWNS, "pytest_runs": PYTEST_RUNS},
            "summary": summary,
            "spread": spread,
            "rounds": rounds,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
