"""Foundation benchmark of the emulator: fixture overhead, in-process request cost, start-up time.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_foundation.py [--rounds N] [--json PATH]

It measures, in one run (the machine is noisy, so every comparison is a ratio taken in the same round):

1. the `emulator` fixture per test: `emulator_namespace(AppTransport(app))` entered and left (reset
   included) on a session app, empty and with one seeded LivePerson account; the `emulator_server` fixture
   per test: `emulator_namespace(HttpTransport(url), url)` (a new `requests` session, so a new connection,
   per test, as the fixture) against a session app on a waitress `BackgroundServer`, empty; both fixtures,
   empty, on an app where another namespace holds 1,000 LivePerson accounts vs an app without one,
   alternating request by request (the ratio is what a test pays for the big namespace's presence); and
   `POST /__emulator/reset` of a namespace holding 1,000 LivePerson accounts (seeded in one `POST
   /__emulator/seed`, untimed; its time shown as info), in-process and over HTTP (keep-alive session);
2. in-process requests through the Flask test client against bare Flask apps doing the same crypto:
   `anonymous/authorize` vs a POST signing one RS256 JWT, `authenticate?v=3.0` vs a POST verifying one
   and signing one, and a Domain API read vs a bare GET JSON route;
3. start-up: spawning `python -m emulator serve --port 0` until `/__emulator/health` answers 200,
   with `python -c "import flask"` for context;
4. fault rules that do not match: `anonymous/authorize` and a `baseURI.json` read in a namespace holding
   ten rules (added with `EmulatorClient.add_fault`) that miss those requests by path glob, method or tenant
   vs the same requests in a namespace with no rules; target: at most 10 % slower. The two alternate request
   by request (chunks of one, the order flipped every pair): in chunks of CHUNK, no rules vs no rules itself
   came out anywhere in 0.96..1.08x on a 2-core machine, too coarse for a 10 % bound; the A/A line (no rules
   vs no rules, read) shows the resolution of each run. Also, as info, one `FaultRules.decide` call with
   those ten rules, timed directly in batches (microseconds per call);
5. the requests of 2. over HTTP: the emulator app and the bare app each on a waitress `BackgroundServer`
   (`emulator.serving.server`, the `emulator_server` fixture's stack) in this process, one keep-alive `http.client`
   connection to each, the two alternating request by request (chunks of one, the order flipped every pair).

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
try:
    import emulator  # noqa: F401
except ImportError:  # run with an interpreter that has the dependencies but not the package installed
    sys.path.insert(0, str(ROOT))

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, request

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient, HttpTransport, cookieless_session
from emulator.config import EmulatorConfig
from emulator.core.faults import FaultRules, FaultSpec, RequestInfo
from emulator.providers.liveperson.identity import EXTERNAL_JWT_SLOT, IDP_ISSUER, audience
from emulator.pytest_plugin import emulator_namespace
from emulator.serving.server import BackgroundServer

FIXTURE_ITERATIONS = 3000  # per round and variant
REQUEST_ITERATIONS = 2000  # per round and endpoint (emulator and baseline each)
CHUNK = 250  # emulator and baseline alternate in chunks of this many requests
WARMUP = 200
STARTUP_SPAWNS = 3  # per round, for the emulator and for the baseline each
STARTUP_TIMEOUT = 20.0
BANNER = re.compile(r"listening on http://([^\s:]+):(\d+)")

FIXTURE_TARGET_MS = 0.5
AUTHORIZE_RATIO_TARGET = 1.2
STARTUP_TARGET_S = 0.5

FAULT_ITERATIONS = 4000  # per round and request, with ten rules and with none each, strictly alternating
FAULT_RATIO_TARGET = 1.10  # ten non-matching rules vs none: at most 10 % slower
DECIDE_BATCH = 1000  # `FaultRules.decide` calls timed together (one call is a few microseconds)
DECIDE_BATCHES = 40  # per round and variant

SERVER_FIXTURE_ITERATIONS = 1000  # per round and variant of the `emulator_server` fixture
BIG_NAMESPACE_TENANTS = 1000  # LivePerson accounts in the namespace whose presence and reset are timed
BIG_RESETS = 15  # per round and transport: seed 1,000 accounts (untimed), reset them (timed)
HTTP_ITERATIONS = 2000  # per round and pair over HTTP, each side, strictly alternating


# --- statistics --------------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Stats:
    """Median and p99 of one batch of samples, in milliseconds."""

    n: int
    median_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        millis = [s * 1000.0 for s in seconds]
        return cls(len(millis), statistics.median(millis), percentile(millis, 0.99))


def timed(operation: Callable[[], Any], iterations: int) -> list[float]:
    """Seconds taken by each of `iterations` calls of `operation`."""
    clock = time.perf_counter
    samples = []
    for _ in range(iterations):
        start = clock()
        operation()
        samples.append(clock() - start)
    return samples


def warm_up(*operations: Callable[[], Any]) -> None:
    for operation in operations:
        for _ in range(WARMUP):
            operation()


# --- 1. fixture overhead --------------------------------------------------------------------------


def fresh_numeric_id(digits: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


def lp_account_seed(**fields: Any) -> dict:
    """One LivePerson account with fresh ids and an unauthenticated connector, as `lp_account` seeds it."""
    account = {"connectors": [{"id": fresh_numeric_id(10), "type": "unauthenticated"}], **fields}
    account["id"] = fresh_numeric_id(8)
    return {"liveperson": {"accounts": [account]}}


def fixture_empty(app: Flask) -> Callable[[], None]:
    """Exactly the body of the `emulator` fixture (no time marker): enter, yield, reset on exit."""

    def run() -> None:
        with emulator_namespace(AppTransport(app)):
            pass

    return run


def fixture_seeded(app: Flask) -> Callable[[], None]:
    """The fixture with one LivePerson account seeded inside the block."""

    def run() -> None:
        with emulator_namespace(AppTransport(app)) as handle:
            handle.control.seed(lp_account_seed())

    return run


def server_fixture_empty(url: str) -> Callable[[], None]:
    """Exactly the body of the `emulator_server` fixture: a new HttpTransport (its own session), enter, reset on exit."""

    def run() -> None:
        with emulator_namespace(HttpTransport(url), url):
            pass

    return run


def measure_fixture(app: Flask) -> dict[str, Stats]:
    empty, seeded = fixture_empty(app), fixture_seeded(app)
    warm_up(empty, seeded)
    results = {}
    for name, operation in (("empty", empty), ("seeded", seeded)):
        gc.collect()
        results[name] = Stats.of(timed(operation, FIXTURE_ITERATIONS))
    return results


def big_seed() -> dict:
    """BIG_NAMESPACE_TENANTS LivePerson accounts with fresh ids, one seed."""
    accounts = [lp_account_seed()["liveperson"]["accounts"][0] for _ in range(BIG_NAMESPACE_TENANTS)]
    if len({account["id"] for account in accounts}) != len(accounts):
        return big_seed()  # two random ids met: draw again
    return {"liveperson": {"accounts": accounts}}


@dataclass
class FixtureSetup:
    """Session apps for the fixture figures: `plain` and `crowded` (another namespace holds 1,000 accounts),
    each also on a waitress server."""

    plain: Flask
    crowded: Flask
    plain_url: str
    crowded_url: str
    servers: list[BackgroundServer]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def fixture_setup(app: Flask) -> FixtureSetup:
    crowded = create_app(EmulatorConfig())
    EmulatorClient(namespace=f"bench-big-{secrets.token_hex(6)}", transport=AppTransport(crowded)).seed(big_seed())
    servers = [BackgroundServer(app).start(), BackgroundServer(crowded).start()]
    return FixtureSetup(app, crowded, servers[0].url, servers[1].url, servers)


def seed_and_reset(transport: Any) -> tuple[float, float]:
    """Seconds to seed 1,000 accounts into a fresh namespace (one POST /seed) and to reset it (POST /reset)."""
    control = EmulatorClient(namespace=f"bench-reset-{secrets.token_hex(6)}", transport=transport)
    seed = big_seed()
    gc.collect()
    start = time.perf_counter()
    control.seed(seed)
    seeded = time.perf_counter()
    control.reset()
    return seeded - start, time.perf_counter() - seeded


def measure_crowded(setup: FixtureSetup) -> dict:
    """The fixtures with and without a 1,000-tenant namespace beside them, and resets of such a namespace."""
    results: dict[str, Any] = {
        "emulator": measure_interleaved(
            Pair("emulator", fixture_empty(setup.crowded), fixture_empty(setup.plain)), FIXTURE_ITERATIONS
        ),
        "emulator_server": measure_interleaved(
            Pair("emulator_server", server_fixture_empty(setup.crowded_url), server_fixture_empty(setup.plain_url)),
            SERVER_FIXTURE_ITERATIONS,
        ),
    }
    session_transport = HttpTransport(setup.plain_url, session=cookieless_session())
    for name, transport in (("in_process", AppTransport(setup.plain)), ("http", session_transport)):
        samples = [seed_and_reset(transport) for _ in range(BIG_RESETS)]
        results[f"reset_{name}"] = Stats.of([reset for _, reset in samples])
        results[f"seed_{name}"] = Stats.of([seed for seed, _ in samples])
    return results


# --- 2. in-process requests -------------------------------------------------------------------------


def load_key() -> rsa.RSAPrivateKey:
    """The emulator's external-JWT key (same size), loaded once as a key object, as a bare app would."""
    key = serialization.load_pem_private_key(EXTERNAL_JWT_SLOT.pem_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def bare_claims(account_id: str, ttl: int = 600) -> dict:
    iat = int(time.time())
    return {
        "iss": IDP_ISSUER,
        "aud": audience(account_id),
        "sub": str(uuid.uuid4()),
        "iat": iat,
        "exp": iat + ttl,
        "auth_time": iat,
    }


def bare_app(key: rsa.RSAPrivateKey, account_id: str) -> Flask:
    """The baselines: a bare Flask app doing the same crypto with pre-loaded key objects."""
    app = Flask("bare")
    public_key = key.public_key()
    headers = {"kid": EXTERNAL_JWT_SLOT.kid}

    @app.get("/read")
    def read() -> Response:
        body = {"service": "idp", "account": account_id, "baseURI": request.host}
        return Response(json.dumps(body), mimetype="application/json")

    @app.post("/sign")
    def sign() -> Response:
        token = jwt.encode(bare_claims(account_id), key, algorithm="RS256", headers=headers)
        return Response(json.dumps({"token": token}), mimetype="application/json")

    @app.post("/verify-sign")
    def verify_sign() -> Response:
        token = request.get_json()["id_token"]
        claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=audience(account_id), issuer=IDP_ISSUER)
        fresh = {
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": IDP_ISSUER,
            "iat": claims["iat"],
            "exp": claims["exp"],
        }
        token = jwt.encode(fresh, key, algorithm="RS256", headers=headers)
        return Response(json.dumps({"token": token}), mimetype="application/json")

    return app


def ok_request(call: Callable[[], Any]) -> Callable[[], None]:
    """`call` (a test-client request) that raises unless it answers 200."""

    def run() -> None:
        response = call()
        if response.status_code != 200:
            raise RuntimeError(f"benchmark request failed: {response.status_code} {response.get_data(as_text=True)}")

    return run


@dataclass
class Pair:
    """An emulator request and its bare-Flask baseline, measured alternately."""

    name: str
    emulator: Callable[[], None]
    baseline: Callable[[], None]


def request_pairs(
    app: Flask, key: rsa.RSAPrivateKey, clients: Callable[[Flask], Any] = Flask.test_client
) -> list[Pair]:
    """The three pairs, on an account seeded in a namespace of the session app (as a test would); `clients`
    makes the client of an app (in-process test client, or `Served().client` over HTTP)."""
    seed = lp_account_seed(settings={"ext_jwt_ttl": "1h"})
    account = seed["liveperson"]["accounts"][0]
    account_id, connector_id = account["id"], account["connectors"][0]["id"]
    EmulatorClient(namespace=f"bench-{secrets.token_hex(8)}", transport=AppTransport(app)).seed(seed)
    client, bare = clients(app), clients(bare_app(key, account_id))
    idp = f"/api/account/{account_id}"
    ext_jwt = client.post(f"{idp}/anonymous/authorize").get_json()["token"]
    bare_jwt = jwt.encode(
        bare_claims(account_id, ttl=3600), key, algorithm="RS256", headers={"kid": EXTERNAL_JWT_SLOT.kid}
    )
    authenticate = f"{idp}/app/{connector_id}/authenticate"
    return [
        Pair(
            "authorize",
            ok_request(lambda: client.post(f"{idp}/anonymous/authorize")),
            ok_request(lambda: bare.post("/sign")),
        ),
        Pair(
            "authenticate",
            ok_request(lambda: client.post(authenticate, query_string={"v": "3.0"}, json={"id_token": ext_jwt})),
            ok_request(lambda: bare.post("/verify-sign", json={"id_token": bare_jwt})),
        ),
        Pair(
            "read",
            ok_request(lambda: client.get(f"{idp}/service/idp/baseURI.json")),
            ok_request(lambda: bare.get("/read")),
        ),
    ]


def measure_pair(pair: Pair) -> dict[str, Stats]:
    """Emulator and baseline in alternating chunks, so drift of the machine hits both alike."""
    warm_up(pair.emulator, pair.baseline)
    emulator_samples: list[float] = []
    baseline_samples: list[float] = []
    gc.collect()
    for _ in range(REQUEST_ITERATIONS // CHUNK):
        baseline_samples += timed(pair.baseline, CHUNK)
        emulator_samples += timed(pair.emulator, CHUNK)
    return {"emulator": Stats.of(emulator_samples), "baseline": Stats.of(baseline_samples)}


# --- 5. over HTTP ----------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass
class HttpReply:
    """What `HttpClient` answers: the parts of a Flask test response the benchmarks read."""

    status_code: int
    data: bytes

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.data.decode() if as_text else self.data

    def get_json(self) -> Any:
        return json.loads(self.data)


class NoDelayConnection(http.client.HTTPConnection):
    """`http.client` sends a request's headers and body in two writes: without TCP_NODELAY (which urllib3,
    under `requests`, sets) Nagle's algorithm holds the body back until the headers are acknowledged."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HttpClient:
    """One keep-alive `http.client` connection to a server, called like a Flask test client (`get`, `post`,
    `delete` with `query_string`, `headers`, `json`); it keeps no cookies."""

    def __init__(self, server: BackgroundServer) -> None:
        self.connection = NoDelayConnection(server.host, server.port, timeout=30)

    def open(
        self, method: str, path: str, query_string: dict | None = None, headers: dict | None = None, json: Any = None
    ) -> HttpReply:
        sent = dict(headers or {})
        body = None
        if json is not None:
            body = encode_json(json)
            sent["Content-Type"] = "application/json"
        if query_string:
            path = f"{path}?{urlencode(query_string)}"
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed the connection while it sat idle (waitress' channel_timeout, 120 s), as a
            # round's in-process part can take that long on a busy machine: connect again, once
            self.connection.close()
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
        return HttpReply(response.status, response.read())

    def get(self, path: str, **options: Any) -> HttpReply:
        return self.open("GET", path, **options)

    def post(self, path: str, **options: Any) -> HttpReply:
        return self.open("POST", path, **options)

    def delete(self, path: str, **options: Any) -> HttpReply:
        return self.open("DELETE", path, **options)


class Served:
    """Apps on waitress `BackgroundServer`s (the `emulator_server` stack, default threads) in this process;
    `client(app)` starts one for `app` and answers a keep-alive client of it. Pass it where a benchmark
    takes `clients` (Flask.test_client for in-process)."""

    def __init__(self) -> None:
        self.servers: list[BackgroundServer] = []

    def client(self, app: Flask) -> HttpClient:
        server = BackgroundServer(app).start()
        self.servers.append(server)
        return HttpClient(server)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


# --- 3. start-up ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int, path: str) -> bool:
    """Whether `GET path` on 127.0.0.1:`port` answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def spawn_until_answers(command: list[str], port: int, path: str, **popen: Any) -> tuple[subprocess.Popen, float]:
    """Spawn `command` (which serves on `port`), then ask `path` every 2 ms from the spawn on: the process and
    the seconds until it first answered 200."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, **popen)
    try:
        while not answers(port, path):
            if process.poll() is not None:
                raise RuntimeError(f"{command}: exited with code {process.returncode}")
            if time.perf_counter() - started > STARTUP_TIMEOUT:
                raise TimeoutError(f"{command}: no 200 on {path}")
            time.sleep(0.002)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return process, time.perf_counter() - started


def emulator_startup() -> float:
    """Seconds from spawning `python -m emulator serve --port N` to its first healthy answer."""
    port = free_port()
    command = [sys.executable, "-m", "emulator", "serve", "--port", str(port)]
    process, seconds = spawn_until_answers(
        command, port, "/__emulator/health", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return seconds
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def import_flask_startup() -> float:
    """Seconds for a `python -c "import flask"` process, start to exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import flask"], cwd=ROOT, check=True)
    return time.perf_counter() - start


def measure_startup() -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"emulator": [], "import_flask": []}
    for _ in range(STARTUP_SPAWNS):
        samples["import_flask"].append(import_flask_startup())
        samples["emulator"].append(emulator_startup())
    return samples


# --- 4. fault rules that do not match -----------------------------------------------------------------


def non_matching_rules(other_tenants: tuple[str, str]) -> list[dict]:
    """Ten rules as tests write them, none matching `anonymous/authorize` or `service/idp/baseURI.json` of
    the benchmark's account: other paths (`*` and `**` globs), other methods, other tenants. LivePerson is the
    only provider, so no rule names another one; one names it and misses by path."""
    tenant_a, tenant_b = other_tenants
    return [
        {
            "kind": "status",
            "status": 503,
            "times": 2,
            "match": {"method": "POST", "path": "/api/account/*/app/*/authenticate"},
        },
        {"kind": "latency", "delay": {"uniform": ["500ms", "1s"]}, "match": {"path": "**/authenticate"}},
        {"kind": "reset", "match": {"path": "/csdr/**"}},
        {"kind": "hang", "duration": "5s", "match": {"path": "/sentinel/**"}},
        {"kind": "status", "status": 500, "match": {"method": "DELETE"}},
        {"kind": "empty", "match": {"method": "PUT", "path": "/api/account/**"}},
        {"kind": "status", "status": 429, "headers": {"Retry-After": "1"}, "match": {"tenant": tenant_a}},
        {"kind": "malformed", "match": {"tenant": tenant_b, "path": "/api/account/*/anonymous/authorize"}},
        {
            "kind": "status",
            "status": 409,
            "probability": 0.5,
            "seed": 7,
            "match": {"provider": "liveperson", "method": "POST", "path": "/api/account/*/signup"},
        },
        {
            "kind": "truncated",
            "every": 2,
            "match": {"method": "GET", "path": "/api/account/*/configuration/le-connectors/**"},
        },
    ]


def other_tenants(account_id: str) -> tuple[str, str]:
    ids: set[str] = set()
    while len(ids) < 2:
        candidate = fresh_numeric_id(8)
        if candidate != account_id:
            ids.add(candidate)
    return tuple(sorted(ids))  # type: ignore[return-value]


@dataclass
class DecideCase:
    """`FaultRules.decide` on one request, timed directly."""

    name: str
    rules: FaultRules
    request: RequestInfo


def fault_setup(app: Flask) -> tuple[list[Pair], list[DecideCase]]:
    """Two namespaces of the session app, each with one seeded account; one also holds the ten rules.
    `emulator` of each pair is the request with ten rules, `baseline` the same request with none."""
    idps, clients = {}, {}
    for variant in ("none", "ten"):
        seed = lp_account_seed()
        account_id = seed["liveperson"]["accounts"][0]["id"]
        clients[variant] = EmulatorClient(
            namespace=f"bench-faults-{variant}-{secrets.token_hex(6)}", transport=AppTransport(app)
        )
        clients[variant].seed(seed)
        idps[variant] = (account_id, f"/api/account/{account_id}")
    specs = non_matching_rules(other_tenants(idps["ten"][0]))
    for spec in specs:
        spec = dict(spec)
        clients["ten"].add_fault(spec.pop("kind"), spec.pop("match"), **spec)
    client = app.test_client()
    pairs = [
        Pair(
            "faults_authorize",
            ok_request(lambda: client.post(f"{idps['ten'][1]}/anonymous/authorize")),
            ok_request(lambda: client.post(f"{idps['none'][1]}/anonymous/authorize")),
        ),
        Pair(
            "faults_read",
            ok_request(lambda: client.get(f"{idps['ten'][1]}/service/idp/baseURI.json")),
            ok_request(lambda: client.get(f"{idps['none'][1]}/service/idp/baseURI.json")),
        ),
    ]
    pairs.append(Pair("faults_noise", pairs[1].baseline, pairs[1].baseline))  # A/A: the resolution of the run
    for pair in pairs:
        pair.emulator()
    rules = clients["ten"].faults()
    if len(rules) != len(specs) or any(rule["matched"] for rule in rules):
        raise RuntimeError(f"the benchmark's fault rules are not ten non-matching ones: {rules}")

    account_id, idp = idps["ten"]
    ten, none = FaultRules(), FaultRules()
    for spec in specs:
        ten.add(FaultSpec.model_validate(spec))
    authorize = RequestInfo("liveperson", "POST", f"{idp}/anonymous/authorize", account_id)
    read = RequestInfo("liveperson", "GET", f"{idp}/service/idp/baseURI.json", account_id)
    cases = [
        DecideCase("ten_authorize", ten, authorize),
        DecideCase("ten_read", ten, read),
        DecideCase("none", none, authorize),
    ]
    for case in cases:
        if case.rules.decide(case.request).fault is not None or any(rule["matched"] for rule in case.rules.list()):
            raise RuntimeError(f"a benchmark fault rule matches {case.request}")
    return pairs, cases


def time_decide(case: DecideCase, batches: int) -> list[float]:
    """Microseconds per `decide` call, one sample per batch of DECIDE_BATCH calls."""
    decide, request, clock = case.rules.decide, case.request, time.perf_counter
    samples = []
    for _ in range(batches):
        start = clock()
        for _ in range(DECIDE_BATCH):
            decide(request)
        samples.append((clock() - start) / DECIDE_BATCH * 1e6)
    return samples


def measure_interleaved(pair: Pair, iterations: int) -> dict[str, Stats]:
    """`measure_pair` in chunks of one request, the order flipped every pair (B E, E B, B E, ...): a few
    percent is below the drift of the machine between chunks of CHUNK requests."""
    warm_up(pair.emulator, pair.baseline)
    emulator_samples: list[float] = []
    baseline_samples: list[float] = []
    forward = ((pair.baseline, baseline_samples), (pair.emulator, emulator_samples))
    backward = forward[::-1]
    clock = time.perf_counter
    gc.collect()
    for number in range(iterations):
        for operation, samples in backward if number % 2 else forward:
            start = clock()
            operation()
            samples.append(clock() - start)
    return {"emulator": Stats.of(emulator_samples), "baseline": Stats.of(baseline_samples)}


def measure_faults(pairs: list[Pair], cases: list[DecideCase]) -> dict:
    requests = {pair.name: measure_interleaved(pair, FAULT_ITERATIONS) for pair in pairs}
    for case in cases:
        time_decide(case, 2)  # warm-up
    gc.collect()
    decide: dict[str, list[float]] = {case.name: [] for case in cases}
    for _ in range(4):  # the variants interleaved, a quarter of the batches at a time
        for case in cases:
            decide[case.name] += time_decide(case, DECIDE_BATCHES // 4)
    return {
        "requests": requests,
        "decide_us": {
            name: {"median": statistics.median(s), "p99": percentile(s, 0.99), "n": len(s)}
            for name, s in decide.items()
        },
    }


# --- report -----------------------------------------------------------------------------------------


@dataclass
class Figure:
    section: str
    name: str
    unit: str  # "ms", "us", "s" or "x"
    median: float
    p99: float | None
    spread: tuple[float, float]  # min and max of the per-round medians
    target: float | None = None  # an upper bound on the median
    strict: bool = False  # the median must stay strictly under the target

    @property
    def result(self) -> str:
        if self.target is None:
            return "info"
        met = self.median < self.target if self.strict else self.median <= self.target
        return "PASS" if met else "MISS"

    def to_dict(self) -> dict:
        return {**asdict(self), "result": self.result}


@dataclass
class Run:
    rounds: list[dict] = field(default_factory=list)


def figure(section: str, name: str, unit: str, per_round: list[tuple[float, float | None]], **target: Any) -> Figure:
    medians = [m for m, _ in per_round]
    p99s = [p for _, p in per_round if p is not None]
    p99 = statistics.median(p99s) if p99s else None
    return Figure(section, name, unit, statistics.median(medians), p99, (min(medians), max(medians)), **target)


def summarise(run: Run) -> list[Figure]:
    rounds = run.rounds
    figures = [
        figure(
            "1",
            "fixture setup+reset, empty namespace",
            "ms",
            [(r["fixture"]["empty"].median_ms, r["fixture"]["empty"].p99_ms) for r in rounds],
            target=FIXTURE_TARGET_MS,
        ),
        figure(
            "1",
            "fixture setup+seed 1 LP account+reset",
            "ms",
            [(r["fixture"]["seeded"].median_ms, r["fixture"]["seeded"].p99_ms) for r in rounds],
        ),
    ]
    tenants = f"{BIG_NAMESPACE_TENANTS:,}"
    for key, label in (
        ("emulator", "fixture (A/B run)"),
        ("emulator_server", "emulator_server fixture (HTTP, new session)"),
    ):
        pairs = [r["crowded"][key] for r in rounds]
        figures += [
            figure(
                "1",
                f"{label} setup+reset, empty namespace",
                "ms",
                [(p["baseline"].median_ms, p["baseline"].p99_ms) for p in pairs],
            ),
            figure(
                "1",
                f"  the same, another namespace holds {tenants} accounts",
                "ms",
                [(p["emulator"].median_ms, p["emulator"].p99_ms) for p in pairs],
            ),
            figure("1", f"  ratio with {tenants} / without", "x", [pair_ratio(p) for p in pairs]),
        ]
    for transport in ("in_process", "http"):
        where = "in-process" if transport == "in_process" else "over HTTP"
        figures += [
            figure(
                "1",
                f"POST /__emulator/reset of a namespace of {tenants} accounts, {where}",
                "ms",
                [
                    (r["crowded"][f"reset_{transport}"].median_ms, r["crowded"][f"reset_{transport}"].p99_ms)
                    for r in rounds
                ],
            ),
            figure(
                "1",
                f"  context: POST /__emulator/seed of those {tenants} accounts",
                "ms",
                [
                    (r["crowded"][f"seed_{transport}"].median_ms, r["crowded"][f"seed_{transport}"].p99_ms)
                    for r in rounds
                ],
            ),
        ]
    labels = {
        "authorize": ("POST anonymous/authorize", "bare POST, sign 1 RS256", AUTHORIZE_RATIO_TARGET),
        "authenticate": ("POST authenticate?v=3.0", "bare POST, verify+sign RS256", None),
        "read": ("GET service/idp/baseURI.json", "bare GET JSON", None),
    }
    for key, (emulator_label, baseline_label, ratio_target) in labels.items():
        figures += pair_figures(
            "2", key, emulator_label, baseline_label, [r["requests"][key] for r in rounds], ratio_target
        )
    for key, label, target in (
        ("emulator", "start-up: serve --port 0 -> 200 health", STARTUP_TARGET_S),
        ("import_flask", '  context: python -c "import flask"', None),
    ):
        per_round = [r["startup"][key] for r in rounds]
        pooled = [s for samples in per_round for s in samples]
        medians = [statistics.median(samples) for samples in per_round]
        figures.append(
            Figure("3", label, "s", statistics.median(pooled), None, (min(medians), max(medians)), target, strict=True)
        )
    for key, label in (
        ("faults_authorize", "POST anonymous/authorize"),
        ("faults_read", "GET service/idp/baseURI.json"),
    ):
        pairs = [r["faults"]["requests"][key] for r in rounds]
        figures += [
            figure(
                "4",
                f"{label}, 10 rules not matching",
                "ms",
                [(p["emulator"].median_ms, p["emulator"].p99_ms) for p in pairs],
            ),
            figure(
                "4",
                "  baseline: same request, no rules",
                "ms",
                [(p["baseline"].median_ms, p["baseline"].p99_ms) for p in pairs],
            ),
            figure(
                "4",
                "  ratio 10 rules / no rules",
                "x",
                [
                    (p["emulator"].median_ms / p["baseline"].median_ms, p["emulator"].p99_ms / p["baseline"].p99_ms)
                    for p in pairs
                ],
                target=FAULT_RATIO_TARGET,
            ),
        ]
    figures.append(
        figure(
            "4",
            "  A/A: read no rules / read no rules",
            "x",
            [
                (p["emulator"].median_ms / p["baseline"].median_ms, p["emulator"].p99_ms / p["baseline"].p99_ms)
                for p in (r["faults"]["requests"]["faults_noise"] for r in rounds)
            ],
        )
    )
    for key, label in (
        ("ten_authorize", "FaultRules.decide, 10 rules, authorize"),
        ("ten_read", "FaultRules.decide, 10 rules, read"),
        ("none", "  context: FaultRules.decide, no rules"),
    ):
        figures.append(
            figure(
                "4",
                label,
                "us",
                [(r["faults"]["decide_us"][key]["median"], r["faults"]["decide_us"][key]["p99"]) for r in rounds],
            )
        )
    for key, (emulator_label, baseline_label, _) in labels.items():
        figures += pair_figures(
            "5", key, f"HTTP {emulator_label}", f"HTTP {baseline_label}", [r["http"][key] for r in rounds]
        )
    return figures


def pair_ratio(pair: dict[str, Stats]) -> tuple[float, float]:
    """Emulator over baseline: (median ratio, p99 ratio)."""
    return pair["emulator"].median_ms / pair["baseline"].median_ms, pair["emulator"].p99_ms / pair["baseline"].p99_ms


def pair_figures(
    section: str,
    key: str,
    emulator_label: str,
    baseline_label: str,
    pairs: list[dict[str, Stats]],
    ratio_target: float | None = None,
) -> list[Figure]:
    """The emulator's line, its baseline's and their ratio, over the rounds' measurements of one pair."""
    return [
        figure(section, emulator_label, "ms", [(p["emulator"].median_ms, p["emulator"].p99_ms) for p in pairs]),
        figure(
            section,
            f"  baseline: {baseline_label}",
            "ms",
            [(p["baseline"].median_ms, p["baseline"].p99_ms) for p in pairs],
        ),
        figure(section, f"  ratio {key} / baseline", "x", [pair_ratio(p) for p in pairs], target=ratio_target),
    ]


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.3f} {unit}"


def show_target(item: Figure) -> str:
    if item.target is None:
        return "-"
    return f"{'<' if item.strict else '<='} {show(item.target, item.unit)}"


def table(figures: list[Figure], rounds: int) -> str:
    header = ("#", "figure", "median", "p99", f"round medians ({rounds})", "target", "result")
    rows = [header]
    for item in figures:
        spread = f"{show(item.spread[0], item.unit)} .. {show(item.spread[1], item.unit)}"
        rows.append(
            (
                item.section,
                item.name,
                show(item.median, item.unit),
                show(item.p99, item.unit),
                spread,
                show_target(item),
                item.result,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def environment() -> dict:
    versions = {}
    for package in ("flask", "werkzeug", "pyjwt", "cryptography", "pydantic", "waitress"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": versions}


# --- main -------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """What every round measures, set up once."""

    app: Flask
    fixtures: FixtureSetup
    pairs: list[Pair]
    http_pairs: list[Pair]
    fault_pairs: list[Pair]
    decide_cases: list[DecideCase]


def one_round(prepared: Prepared) -> dict:
    return {
        "fixture": measure_fixture(prepared.app),
        "crowded": measure_crowded(prepared.fixtures),
        "requests": {pair.name: measure_pair(pair) for pair in prepared.pairs},
        "http": {pair.name: measure_interleaved(pair, HTTP_ITERATIONS) for pair in prepared.http_pairs},
        "faults": measure_faults(prepared.fault_pairs, prepared.decide_cases),
        "startup": measure_startup(),
    }


def serialisable(data: Any) -> Any:
    if isinstance(data, Stats):
        return asdict(data)
    if isinstance(data, dict):
        return {k: serialisable(v) for k, v in data.items()}
    return data


def bench_arguments(doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    """`--rounds N --json PATH`, the options every benchmark of this folder takes."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds to run (at least 3 for comparisons; default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures and per-round data as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)

    started = time.perf_counter()
    app = create_app(EmulatorConfig())  # the session app, shared by every round as by a test session
    key = load_key()
    served = Served()
    prepared = Prepared(
        app, fixture_setup(app), request_pairs(app, key), request_pairs(app, key, served.client), *fault_setup(app)
    )
    run = Run()
    try:
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            run.rounds.append(one_round(prepared))
    finally:
        served.stop()
        prepared.fixtures.stop()
    figures = summarise(run)
    elapsed = time.perf_counter() - started

    print(table(figures, args.rounds))
    misses = [f.name.strip() for f in figures if f.result == "MISS"]
    spawns = [s for r in run.rounds for s in r["startup"]["emulator"]]
    print(
        f"\nstart-up: median of {len(spawns)} spawns ({STARTUP_SPAWNS} per round), worst {max(spawns):.3f} s;"
        f" p99 over {FIXTURE_ITERATIONS} (fixture) / {REQUEST_ITERATIONS} (requests) samples per round"
    )
    reads = [r["faults"]["requests"]["faults_read"] for r in run.rounds]
    added_us = statistics.median((p["emulator"].median_ms - p["baseline"].median_ms) * 1000 for p in reads)
    decide_us = statistics.median(r["faults"]["decide_us"]["ten_read"]["median"] for r in run.rounds)
    print(
        f"faults: {FAULT_ITERATIONS} requests per round and variant, alternating one by one; the 10 rules add"
        f" {added_us:.1f} us to the read's median (decide alone, in a tight loop: {decide_us:.1f} us);"
        f" decide p99 is over batches of {DECIDE_BATCH} calls ({DECIDE_BATCHES} per round)"
    )
    print(
        f"emulator_server fixture: {SERVER_FIXTURE_ITERATIONS} per round and variant; resets of {BIG_NAMESPACE_TENANTS:,}"
        f" accounts: {BIG_RESETS} per round and transport; HTTP (5): {HTTP_ITERATIONS} requests per round and side,"
        f" waitress BackgroundServer, keep-alive http.client, alternating one by one"
    )
    print(
        f"{len(figures)} figures, {sum(f.result == 'PASS' for f in figures)} PASS, {len(misses)} MISS"
        f" ({args.rounds} rounds, {elapsed:.0f} s; ratios are per-round, medians over rounds)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "settings": {
                "rounds": args.rounds,
                "fixture_iterations": FIXTURE_ITERATIONS,
                "request_iterations": REQUEST_ITERATIONS,
                "startup_spawns": STARTUP_SPAWNS,
                "fault_iterations": FAULT_ITERATIONS,
                "decide_batch": DECIDE_BATCH,
                "decide_batches": DECIDE_BATCHES,
                "server_fixture_iterations": SERVER_FIXTURE_ITERATIONS,
                "big_namespace_tenants": BIG_NAMESPACE_TENANTS,
                "big_resets": BIG_RESETS,
                "http_iterations": HTTP_ITERATIONS,
            },
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
            "elapsed_s": elapsed,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
