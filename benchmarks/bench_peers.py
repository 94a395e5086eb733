"""Peer comparison over real sockets: the standalone emulator, a bare Flask app and peer mock servers, one load generator.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_peers.py [--rounds N] [--duration S] [--json PATH] [--install-peers] [--peers-dir DIR]

Every round starts each server fresh, then drives each of its endpoints with wrk (a Lua script per
endpoint sets the method, headers and body): a warm-up, `wrk -t2 -c16 -d{S}s` for throughput (the
server's CPU time is read from /proc/PID/stat around it), then `wrk -t1 -c1 -d{S}s` for single-client
latency (p50, p99); the server's RSS is read after both. Servers, all on 127.0.0.1:

a) the emulator, `python -m emulator serve --port N` (waitress, the demo seed): LivePerson
   `anonymous/authorize` (issues an RS256 external JWT), `authenticate?v=3.0` (verifies one obtained first,
   issues the LP JWT), `service/idp/baseURI.json` (a read); Sunshine `GET /v2/apps/{app}/users/{id}`
   (Basic app key of the demo app, the user created first);
b) a bare Flask app on the same waitress server (`emulator.serving.server.run_server`): a GET JSON of a static
   path, the two reads at the emulator's paths doing the same work without the emulator (path values routed
   and looked up in a dict, the Basic credentials compared, a JSON body of the same fields), and a POST
   signing one RS256 JWT with a key loaded once (bench_foundation's `bare_app`);
c) peers installed from the registries (`--install-peers`, into `--peers-dir`, default benchmarks/.peers,
   which holds a `.gitignore` of `*`): npm oauth2-mock-server (POST /token, client_credentials; it signs
   a JWT), moto's server from PyPI (STS GetSessionToken), npm wiremock (its standalone jar on java, one
   static JSON stub, request journal on as by default). A peer that is missing is reported "not run".

The ratio column is the bare Flask route's req/s over the row's (the same round; >1: slower than bare
Flask), against the bare POST-sign route for rows that issue a JWT, the bare POST verify-and-sign route for
the row that verifies one and issues another, the bare GET at the same path for a read, and the static bare
GET otherwise; figures are medians over rounds. Then the targets, each a ratio taken within one round (median
and range over rounds): token issue under c16 >= 0.9x bare sign and ahead of oauth2-mock-server; reads under
c16 >= 0.8x the bare GET at the same path and single-client p50 <= 1.3x it (against the static bare GET as
well, shown without a bound); start to first answer (the emulator: health 200; each server asked every 2 ms from its
spawn) <= 0.5 s; idle RSS (once ready: the emulator's banner printed) <= 100 MB. The machine is
noisy: compare only ratios taken in one run. The emulator's bytecode is compiled first (as an installed
package has it), so that start-up is not timed compiling sources.

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import base64
import compileall
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

from bench_foundation import BANNER, ROOT, bare_app, bench_arguments, environment, load_key
from flask import Flask, Response, request

PEERS_DIR = ROOT / "benchmarks" / ".peers"
NPM_PEERS = {"oauth2-mock-server": "8.2.3", "wiremock": "3.13.2"}  # oauth2-mock-server 9 needs Node >= 22
MOTO_REQUIREMENT = "moto[server]==5.2.5"
DEMO_ACCOUNT, DEMO_CONNECTOR = "12345678", "2468"  # emulator/demo_seed.yaml
DEMO_APP, DEMO_KEY, DEMO_SECRET = "5f0c1e2d3c4b5a6978695a4b", "app_5f0c1e2d3c4b5a6978695a4c", "demo-app-key-secret"
START_TIMEOUT = 60.0
WARMUP_S = 2.0
STS_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request,"
    " SignedHeaders=host, Signature=0"
)
WIREMOCK_STUB = {
    "request": {"method": "GET", "url": "/static"},
    "response": {
        "status": 200,
        "jsonBody": {"service": "idp", "account": DEMO_ACCOUNT, "baseURI": "127.0.0.1"},
        "headers": {"Content-Type": "application/json"},
    },
}


# --- endpoints and servers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One request wrk repeats, the status it must answer, and the bare route it is compared with."""

    name: str
    method: str
    path: str
    status: int
    baseline: str  # "get", "sign" or "verify-sign"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Server:
    """A server to start fresh every round: its command, and how to find its endpoints once it answers."""

    name: str
    version: str
    command: Callable[[int], list[str]]  # port -> argv
    endpoints: Callable[[str], list[Endpoint]]  # base URL -> endpoints (may make requests to set up state)
    banner: bool = False  # prints BANNER once it is ready for every request (its start-up ends earlier)
    health: str | None = None  # the path whose first 200 ends its start-up (None: any answer on any path)
    skipped: str | None = None  # "not run: reason"


def call(base: str, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request with http.client: status and body."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body.encode() or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def demo_basic() -> dict[str, str]:
    """The demo Sunshine app's key as Basic credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()}


def emulator_endpoints(base: str) -> list[Endpoint]:
    """The four emulator rows; an external JWT and a Sunshine user are made first."""
    idp = f"/api/account/{DEMO_ACCOUNT}"
    status, body = call(base, "POST", f"{idp}/anonymous/authorize")
    if status != 200:
        raise RuntimeError(f"anonymous/authorize answered {status}: {body[:200]!r}")
    ext_jwt = json.loads(body)["token"]
    basic = demo_basic()
    user_body = json.dumps({"externalId": f"bench-peers-{os.getpid()}-{time.time_ns()}"})
    status, body = call(base, "POST", f"/v2/apps/{DEMO_APP}/users", user_body, {**basic, **json_headers()})
    if status != 201:
        raise RuntimeError(f"Sunshine POST users answered {status}: {body[:200]!r}")
    user_id = json.loads(body)["user"]["id"]
    return [
        Endpoint("LP anonymous/authorize (issues RS256 JWT)", "POST", f"{idp}/anonymous/authorize", 200, "sign"),
        Endpoint(
            "LP authenticate?v=3.0 (verify + issue RS256)",
            "POST",
            f"{idp}/app/{DEMO_CONNECTOR}/authenticate?v=3.0",
            200,
            "verify-sign",
            json_headers(),
            json.dumps({"id_token": ext_jwt}),
        ),
        Endpoint("LP service/idp/baseURI.json (read)", "GET", f"{idp}/service/idp/baseURI.json", 200, "get-lp"),
        Endpoint(
            "Sunshine GET users/{id} (Basic)", "GET", f"/v2/apps/{DEMO_APP}/users/{user_id}", 200, "get-sunshine", basic
        ),
    ]


def bare_endpoints(base: str) -> list[Endpoint]:
    status, body = call(base, "POST", "/sign")
    if status != 200:
        raise RuntimeError(f"bare /sign answered {status}: {body[:200]!r}")
    token_body = json.dumps({"id_token": json.loads(body)["token"]})
    return [
        Endpoint("bare GET JSON", "GET", "/read", 200, "get"),
        Endpoint(
            "bare GET, LP baseURI.json path",
            "GET",
            f"/api/account/{DEMO_ACCOUNT}/service/idp/baseURI.json",
            200,
            "get-lp",
        ),
        Endpoint(
            "bare GET, Sunshine users/{id} path (Basic)",
            "GET",
            f"/v2/apps/{DEMO_APP}/users/{BARE_USER_ID}",
            200,
            "get-sunshine",
            demo_basic(),
        ),
        Endpoint("bare POST, sign one RS256 JWT", "POST", "/sign", 200, "sign"),
        Endpoint(
            "bare POST, verify one RS256 JWT and sign one",
            "POST",
            "/verify-sign",
            200,
            "verify-sign",
            json_headers(),
            token_body,
        ),
    ]


def oauth2_endpoints(base: str) -> list[Endpoint]:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Basic " + base64.b64encode(b"bench:secret").decode(),
    }
    return [
        Endpoint(
            "token, client_credentials (signs a JWT)",
            "POST",
            "/token",
            200,
            "sign",
            headers,
            "grant_type=client_credentials&scope=read",
        )
    ]


def moto_endpoints(base: str) -> list[Endpoint]:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": STS_AUTH}
    return [
        Endpoint("STS GetSessionToken", "POST", "/", 200, "get", headers, "Action=GetSessionToken&Version=2011-06-15")
    ]


def wiremock_endpoints(base: str) -> list[Endpoint]:
    return [Endpoint("static JSON stub", "GET", "/static", 200, "get")]


def package_version(package_json: Path) -> str:
    return json.loads(package_json.read_text())["version"]


def emulator_servers() -> list[Server]:
    """The emulator and the bare Flask app, both on the emulator's waitress server."""
    from importlib import metadata

    versions = f"Flask {metadata.version('flask')}, waitress {metadata.version('waitress')}"
    script = str(Path(__file__).resolve())
    return [
        Server(
            "emulator (serve, waitress)",
            versions,
            lambda port: [sys.executable, "-m", "emulator", "serve", "--port", str(port)],
            emulator_endpoints,
            banner=True,
            health="/__emulator/health",
        ),
        Server(
            "bare Flask (same waitress server)",
            versions,
            lambda port: [sys.executable, script, "--serve-bare", str(port)],
            bare_endpoints,
            banner=True,
            health="/read",
        ),
    ]


def peer_servers(peers: Path) -> list[Server]:
    """The peers found in `peers`, or each one with the reason it cannot run."""
    modules = peers / "node_modules"
    oauth2 = modules / "oauth2-mock-server"
    jars = sorted((modules / "wiremock" / "build").glob("wiremock-standalone-*.jar"))
    moto = peers / "moto-venv" / "bin" / "moto_server"
    wiremock_root = peers / "wiremock-root"
    servers = [
        Server(
            "oauth2-mock-server (Node)",
            "",
            lambda port: ["node", str(oauth2 / "dist" / "oauth2-mock-server.mjs"), "-a", "127.0.0.1", "-p", str(port)],
            oauth2_endpoints,
        ),
        Server("moto server", "", lambda port: [str(moto), "-H", "127.0.0.1", "-p", str(port)], moto_endpoints),
        Server(
            "WireMock (journal on)",
            "",
            lambda port: [
                "java",
                "-jar",
                str(jars[-1]),
                "--port",
                str(port),
                "--bind-address",
                "127.0.0.1",
                "--root-dir",
                str(wiremock_root),
                "--disable-banner",
            ],
            wiremock_endpoints,
        ),
    ]
    oauth2_server, moto_server, wiremock_server = servers
    if shutil.which("node") is None:
        oauth2_server.skipped = "not run: node not found"
    elif not (oauth2 / "package.json").exists():
        oauth2_server.skipped = f"not run: not installed in {peers} (use --install-peers)"
    else:
        oauth2_server.version = f"{package_version(oauth2 / 'package.json')} (Node {node_version()})"
    if not moto.exists():
        moto_server.skipped = f"not run: not installed in {peers} (use --install-peers)"
    else:
        moto_server.version = venv_version(peers / "moto-venv", "moto")
    if shutil.which("java") is None:
        wiremock_server.skipped = "not run: java not found"
    elif not jars:
        wiremock_server.skipped = f"not run: not installed in {peers} (use --install-peers)"
    else:
        wiremock_server.version = f"{package_version(modules / 'wiremock' / 'package.json')} ({java_version()})"
        write_stub(wiremock_root)
    return servers


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


def java_version() -> str:
    lines = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return lines[0].replace('"', "") if lines else "java"


def venv_version(venv: Path, package: str) -> str:
    code = f"from importlib import metadata; print(metadata.version({package!r}))"
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True).stdout.strip()


def write_stub(root: Path) -> None:
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / "static.json").write_text(json.dumps(WIREMOCK_STUB))


def install_peers(peers: Path) -> None:
    """npm and PyPI peers into `peers` (a `.gitignore` of `*` keeps the folder out of git)."""
    peers.mkdir(parents=True, exist_ok=True)
    (peers / ".gitignore").write_text("*\n")
    packages = [f"{name}@{version}" for name, version in NPM_PEERS.items()]
    subprocess.run(["npm", "install", "--prefix", str(peers), "--no-audit", "--no-fund", *packages], check=True)
    venv = peers / "moto-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", MOTO_REQUIREMENT], check=True)


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Running:
    process: subprocess.Popen
    base: str
    startup_s: float
    idle_rss_mb: float  # once ready (first answer; banner printed), before any load


def start(server: Server, log: Path) -> Running:
    """Spawn the server and wait until it answers (its health path, else any request): its start-up; then,
    with a banner, until it printed it (ready for every request), before its idle RSS is read."""
    port = free_port()
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            server.command(port),
            cwd=ROOT,
            stdout=subprocess.PIPE if server.banner else output,
            stderr=subprocess.STDOUT,
            text=server.banner,
        )
    try:
        wait_answering(process, port, server.health, started + START_TIMEOUT)
        startup = time.perf_counter() - started
        if server.banner:
            read_banner(process)
            threading.Thread(target=process.stdout.read, daemon=True).start()  # drain it, so the server never blocks
    except BaseException:
        stop(process)
        raise
    return Running(process, f"http://127.0.0.1:{port}", startup, rss_mb(process.pid))


def read_banner(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    if not any(BANNER.search(line) for line in process.stdout):
        raise RuntimeError(f"the server exited without its banner (exit code {process.wait()})")


def wait_answering(process: subprocess.Popen, port: int, health: str | None, deadline: float) -> None:
    """Until `GET health` answers 200 (None: until any request gets any answer), asked every 2 ms."""
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            status, _ = call(f"http://127.0.0.1:{port}", "GET", health or "/__bench_ready")
            if health is None or status == 200:
                return
        except OSError:
            pass
        time.sleep(0.002)
    raise TimeoutError(f"nothing answers on port {port}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads) from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# --- wrk --------------------------------------------------------------------------------------------

LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nBENCH {"requests": %d, "duration_us": %d, "p50_us": %.1f, "p99_us": %.1f, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_string(text: str) -> str:
    level = "=" * 3
    if f"]{level}]" in text:
        raise ValueError("a request part holds the Lua long-bracket terminator")
    return f"[{level}[{text}]{level}]"


def lua_script(endpoint: Endpoint) -> str:
    lines = [f"wrk.method = {lua_string(endpoint.method)}"]
    if endpoint.body:
        lines.append(f"wrk.body = {lua_string(endpoint.body)}")
    lines += [f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in endpoint.headers.items()]
    return "\n".join(lines) + "\n" + LUA_DONE


@dataclass
class WrkResult:
    requests: int
    duration_us: int
    p50_us: float
    p99_us: float
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def wrk(base: str, endpoint: Endpoint, script: Path, threads: int, connections: int, seconds: float) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
        base + endpoint.path,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {output}")
    return WrkResult(**json.loads(line.removeprefix("BENCH ")))


@dataclass
class Row:
    """One endpoint's figures in one round."""

    server: str
    endpoint: str
    baseline: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    rss_mb: float
    failed: int  # non-2xx/3xx answers and socket errors over both wrk runs
    idle_rss_mb: float


def check(base: str, endpoint: Endpoint) -> None:
    status, body = call(base, endpoint.method, endpoint.path, endpoint.body, endpoint.headers)
    if status != endpoint.status:
        raise RuntimeError(f"{endpoint.name}: {status} instead of {endpoint.status}: {body[:300]!r}")


def measure(server: Server, running: Running, endpoint: Endpoint, scripts: Path, seconds: float) -> Row:
    """Warm-up, c16 throughput with the server's CPU time around it, c1 latency, then RSS."""
    check(running.base, endpoint)
    script = scripts / f"{abs(hash((server.name, endpoint.name)))}.lua"
    script.write_text(lua_script(endpoint))
    pid = running.process.pid
    wrk(running.base, endpoint, script, 2, 16, WARMUP_S)
    cpu_before = cpu_seconds(pid)
    load = wrk(running.base, endpoint, script, 2, 16, seconds)
    cpu = cpu_seconds(pid) - cpu_before
    single = wrk(running.base, endpoint, script, 1, 1, seconds)
    failed = sum(load.errors.values()) + sum(single.errors.values())
    return Row(
        server.name,
        endpoint.name,
        endpoint.baseline,
        load.rate,
        single.p50_us / 1000,
        single.p99_us / 1000,
        cpu / max(1, load.requests) * 1e6,
        rss_mb(pid),
        failed,
        running.idle_rss_mb,
    )


def run_server(server: Server, scripts: Path, seconds: float) -> tuple[list[Row], float]:
    """Start the server fresh, measure each of its endpoints, stop it: the rows and its start-up seconds."""
    running = start(server, scripts / f"{abs(hash(server.name))}.log")
    try:
        return [
            measure(server, running, endpoint, scripts, seconds) for endpoint in server.endpoints(running.base)
        ], running.startup_s
    finally:
        stop(running.process)


def one_round(servers: list[Server], scripts: Path, seconds: float, reverse: bool) -> dict:
    """Every runnable server once (the order reversed every other round, so drift hits both ends alike)."""
    rows: list[Row] = []
    startup: dict[str, float] = {}
    for server in reversed(servers) if reverse else servers:
        if server.skipped:
            continue
        print(f"  {server.name} ...", file=sys.stderr, flush=True)
        server_rows, startup[server.name] = run_server(server, scripts, seconds)
        rows += server_rows
    return {"rows": rows, "startup_s": startup}


# --- targets ----------------------------------------------------------------------------------------

EMULATOR, BARE, OAUTH2 = "emulator (serve, waitress)", "bare Flask (same waitress server)", "oauth2-mock-server (Node)"
ISSUE_ROW = "LP anonymous/authorize (issues RS256 JWT)"
VALIDATE_ROW = "LP authenticate?v=3.0 (verify + issue RS256)"
READ_ROWS = ("LP service/idp/baseURI.json (read)", "Sunshine GET users/{id} (Basic)")
READ_BASELINES = ("get-lp", "get-sunshine")  # each read's bare route at the same path (READ_ROWS' order)
BARE_ROWS = {
    "get": "bare GET JSON",
    "get-lp": "bare GET, LP baseURI.json path",
    "get-sunshine": "bare GET, Sunshine users/{id} path (Basic)",
    "sign": "bare POST, sign one RS256 JWT",
    "verify-sign": "bare POST, verify one RS256 JWT and sign one",
}


@dataclass(frozen=True)
class Target:
    name: str
    bound: float
    at_least: bool  # True: the figure must reach `bound`; False: stay under it


TARGETS = [
    Target("HTTP token issue c16, req/s vs bare sign", 0.9, True),
    Target("HTTP token issue c16, req/s vs oauth2-mock-server", 1.0, True),
    Target("HTTP verify + issue c16, req/s vs bare verify-sign (no target: shown)", 0.0, True),
    *[Target(f"read c16, req/s vs bare GET at its path: {row}", 0.8, True) for row in READ_ROWS],
    *[Target(f"read c1 p50 vs bare GET p50 at its path: {row}", 1.3, False) for row in READ_ROWS],
    *[Target(f"read c16, req/s vs bare GET of a static path (shown): {row}", 0.0, True) for row in READ_ROWS],
    *[Target(f"read c1 p50 vs bare GET p50 of a static path (shown): {row}", 0.0, False) for row in READ_ROWS],
    Target(
        "CPU per request, bare sign over token issue c16 (shown: steadier than req/s on a shared machine)", 0.0, True
    ),
    Target("CPU per request, bare verify-sign over verify + issue c16 (shown)", 0.0, True),
    *[Target(f"CPU per request, bare GET at its path over read c16 (shown): {row}", 0.0, True) for row in READ_ROWS],
    Target("start to first answer, s", 0.5, False),
    Target("idle RSS after start, MB", 100.0, False),
]


def round_figures(rows: list[dict], startup: dict[str, float]) -> dict[str, float]:
    """The targets' figures in one round (those whose rows ran)."""
    by = {(row["server"], row["endpoint"]): row for row in rows}
    figures: dict[str, float] = {}

    def ratio(
        name: str, ours: tuple[str, str], theirs: tuple[str, str], field: str = "rps", inverse: bool = False
    ) -> None:
        if ours in by and theirs in by and by[ours][field] and by[theirs][field]:
            figures[name] = by[ours][field] / by[theirs][field] if not inverse else by[theirs][field] / by[ours][field]

    issue, names = (EMULATOR, ISSUE_ROW), [t.name for t in TARGETS]
    ratio(names[0], issue, (BARE, BARE_ROWS["sign"]))
    oauth2 = next((key for key in by if key[0] == OAUTH2), None)
    if oauth2:
        ratio(names[1], issue, oauth2)
    ratio(names[2], (EMULATOR, VALIDATE_ROW), (BARE, BARE_ROWS["verify-sign"]))
    reads = len(READ_ROWS)
    for index, (row, baseline) in enumerate(zip(READ_ROWS, READ_BASELINES, strict=True)):
        ratio(names[3 + index], (EMULATOR, row), (BARE, BARE_ROWS[baseline]))
        ratio(names[3 + reads + index], (EMULATOR, row), (BARE, BARE_ROWS[baseline]), "p50_ms")
        ratio(names[3 + 2 * reads + index], (EMULATOR, row), (BARE, BARE_ROWS["get"]))
        ratio(names[3 + 3 * reads + index], (EMULATOR, row), (BARE, BARE_ROWS["get"]), "p50_ms")
    cpu = 3 + 4 * reads
    ratio(names[cpu], issue, (BARE, BARE_ROWS["sign"]), "cpu_us", inverse=True)
    ratio(names[cpu + 1], (EMULATOR, VALIDATE_ROW), (BARE, BARE_ROWS["verify-sign"]), "cpu_us", inverse=True)
    for index, (row, baseline) in enumerate(zip(READ_ROWS, READ_BASELINES, strict=True)):
        ratio(names[cpu + 2 + index], (EMULATOR, row), (BARE, BARE_ROWS[baseline]), "cpu_us", inverse=True)
    if EMULATOR in startup:
        figures[names[-2]] = startup[EMULATOR]
    idle = [row["idle_rss_mb"] for row in rows if row["server"] == EMULATOR]
    if idle:
        figures[names[-1]] = idle[0]
    return figures


def targets_table(rounds: list[dict[str, float]]) -> tuple[str, list[dict]]:
    """Each target's median and range over rounds, and whether the median meets it."""
    lines = ["| target | median (rounds' range) | bound | met |", "|---|---|---|---|"]
    verdicts = []
    for target in TARGETS:
        values = [figures[target.name] for figures in rounds if target.name in figures]
        if not values:
            lines.append(f"| {target.name} | not measured | | |")
            continue
        median = statistics.median(values)
        shown = target.bound == 0.0
        met = None if shown else (median >= target.bound if target.at_least else median <= target.bound)
        bound = "-" if shown else f"{'>=' if target.at_least else '<='} {target.bound:g}"
        lines.append(
            f"| {target.name} | {median:.2f} ({min(values):.2f}–{max(values):.2f}) | {bound} | {'-' if met is None else 'yes' if met else 'NO'} |"
        )
        verdicts.append(
            {
                "target": target.name,
                "median": median,
                "range": [min(values), max(values)],
                "bound": target.bound,
                "at_least": target.at_least,
                "met": met,
            }
        )
    return "\n".join(lines), verdicts


# --- report -----------------------------------------------------------------------------------------


def with_ratios(rows: list[Row]) -> list[dict]:
    """The round's rows as dicts, each with `ratio`: the bare route's req/s over the row's."""
    bare = {row.baseline: row.rps for row in rows if row.server.startswith("bare Flask")}
    return [
        {**asdict(row), "ratio": bare[row.baseline] / row.rps if row.baseline in bare and row.rps else None}
        for row in rows
    ]


def summarise(rounds: list[list[dict]]) -> list[dict]:
    """Per (server, endpoint): the median of each figure over rounds, and the per-round ratios' spread."""
    keys = list(dict.fromkeys((r["server"], r["endpoint"]) for rows in rounds for r in rows))
    summary = []
    for server, endpoint in keys:
        matching = [r for rows in rounds for r in rows if (r["server"], r["endpoint"]) == (server, endpoint)]
        item = {
            "server": server,
            "endpoint": endpoint,
            "rounds": len(matching),
            "failed": sum(r["failed"] for r in matching),
        }
        for name in ("rps", "ratio", "p50_ms", "p99_ms", "cpu_us", "rss_mb"):
            values = [r[name] for r in matching if r[name] is not None]
            item[name] = statistics.median(values) if values else None
        ratios = [r["ratio"] for r in matching if r["ratio"] is not None]
        item["ratio_spread"] = (min(ratios), max(ratios)) if ratios else None
        summary.append(item)
    return summary


def cell(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def markdown(summary: list[dict], skipped: list[Server]) -> str:
    lines = [
        "| server | endpoint | req/s (c16) | ratio to bare (req/s; rounds' range) | p50 ms (c1) | p99 ms (c1) | CPU µs/req | RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in summary:
        spread = item["ratio_spread"]
        ratio = f"{item['ratio']:.2f}x ({spread[0]:.2f}–{spread[1]:.2f})" if spread else "-"
        failed = f" ({item['failed']} failed)" if item["failed"] else ""
        lines.append(
            f"| {item['server']} | {item['endpoint']}{failed} | {cell(item['rps'], ',.0f')} | {ratio}"
            f" | {cell(item['p50_ms'], '.2f')} | {cell(item['p99_ms'], '.2f')} | {cell(item['cpu_us'], ',.0f')} | {cell(item['rss_mb'], '.0f')} |"
        )
    lines += [f"| {server.name} | {server.skipped} | | | | | | |" for server in skipped]
    return "\n".join(lines)


def startup_line(rounds: list[dict]) -> str:
    names = list(dict.fromkeys(name for r in rounds for name in r["startup_s"]))
    medians = {
        name: statistics.median(r["startup_s"][name] for r in rounds if name in r["startup_s"]) for name in names
    }
    return "start to first answer (median): " + ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in medians.items()
    )


# --- main -------------------------------------------------------------------------------------------


BARE_USER_ID = "5f0c0000000000000000beef"
# the fields of the emulator's Sunshine user answer (its values for a user created with an externalId only)
BARE_USER = {
    "externalId": "bench",
    "zendeskId": None,
    "brandId": None,
    "authenticated": False,
    "signedUpAt": "2026-01-01T00:00:00.000Z",
    "toBeRetained": False,
    "hasPaymentInfo": False,
    "profile": {"givenName": None, "surname": None, "email": None, "avatarUrl": None, "locale": None},
    "metadata": {},
    "identities": [],
}
# some of the Domain API services the emulator names: a set lookup, as the emulator's
LP_SERVICES = frozenset({"agentVep", "idp", "sentinel", "asyncMessagingEnt", "msgHist", "accountConfigReadOnly"})


def add_read_routes(app: Flask) -> None:
    """The bare app's reads at the emulator's paths, doing the same work without the emulator: the path's
    values routed and looked up in a dict (unknown: 404), the Basic credentials compared, the same JSON."""
    users = {BARE_USER_ID: {"id": BARE_USER_ID, **BARE_USER}}
    accounts = {DEMO_ACCOUNT}
    basic = demo_basic()["Authorization"]

    @app.get("/api/account/<account_id>/service/<service>/baseURI.json")
    def lp_base_uri(account_id: str, service: str) -> Response:
        if account_id not in accounts or service not in LP_SERVICES:
            return Response(b"{}", status=404, mimetype="application/json")
        body = {"service": service, "account": account_id, "baseURI": request.host}
        return Response(json.dumps(body), mimetype="application/json")

    @app.get("/v2/apps/<app_id>/users/<user_id>")
    def sunshine_user(app_id: str, user_id: str) -> Response:
        if app_id != DEMO_APP or request.headers.get("Authorization") != basic:
            return Response(b"{}", status=401, mimetype="application/json")
        user = users.get(user_id)
        if user is None:
            return Response(b"{}", status=404, mimetype="application/json")
        return Response(json.dumps({"user": user}), mimetype="application/json")


def serve_bare(port: int) -> int:
    """The bare Flask baseline on the emulator's waitress server (a subprocess of the benchmark)."""
    from emulator.serving.server import run_server as run_waitress

    app = bare_app(load_key(), DEMO_ACCOUNT)
    add_read_routes(app)
    run_waitress(
        app, "127.0.0.1", port, on_ready=lambda bound: print(f"listening on http://127.0.0.1:{bound}", flush=True)
    )
    return 0


def arguments(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    """This benchmark's own options, then the common `--rounds N --json PATH`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each wrk run (default 10)")
    parser.add_argument("--install-peers", action="store_true", help="install the peers into --peers-dir first")
    parser.add_argument(
        "--peers-dir", type=Path, default=PEERS_DIR, help="where the peers live (default benchmarks/.peers)"
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    own, rest = parser.parse_known_args(argv)
    return own, (bench_arguments(__doc__, rest) if own.serve_bare is None else argparse.Namespace())


def main(argv: list[str] | None = None) -> int:
    own, args = arguments(argv)
    if own.serve_bare is not None:
        return serve_bare(own.serve_bare)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    if own.install_peers:
        install_peers(own.peers_dir)
    compileall.compile_dir(ROOT / "emulator", quiet=1)  # as an installed package has it: start-up compiles nothing
    servers = [*emulator_servers(), *peer_servers(own.peers_dir)]
    runnable = [server for server in servers if not server.skipped]
    versions = {server.name: server.version for server in runnable}
    started = time.perf_counter()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as scripts:
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            rounds.append(one_round(runnable, Path(scripts), own.duration, reverse=number % 2 == 0))
    per_round = [with_ratios(r["rows"]) for r in rounds]
    summary = summarise(per_round)
    targets_text, verdicts = targets_table(
        [round_figures(rows, r["startup_s"]) for rows, r in zip(per_round, rounds, strict=True)]
    )
    skipped = [server for server in servers if server.skipped]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    print(markdown(summary, skipped))
    print("\nversions: " + "; ".join(f"{name}: {version}" for name, version in versions.items()))
    print(startup_line(rounds))
    print("\ntargets (ratios taken within each round; median over rounds):\n" + targets_text)
    print(
        f"{wrk_version}; wrk -t2 -c16 -d{own.duration:g}s (req/s, CPU) and -t1 -c1 -d{own.duration:g}s (p50, p99);"
        f" medians over {args.rounds} rounds, {time.perf_counter() - started:.0f} s"
    )
    if args.json:
        document = {
            "environment": {**environment(), "wrk": wrk_version, "peers": versions},
            "settings": {"rounds": args.rounds, "duration_s": own.duration, "warmup_s": WARMUP_S},
            "summary": summary,
            "targets": verdicts,
            "not_run": {server.name: server.skipped for server in skipped},
            "rounds": [{"rows": rows, "startup_s": r["startup_s"]} for rows, r in zip(per_round, rounds, strict=True)],
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
