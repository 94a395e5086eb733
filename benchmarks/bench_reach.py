"""Reach benchmark: the fixtures behind every transport, interception of httpx, the HTTPS proxy.

Run from the repository root with the project's virtualenv:

    python benchmarks/bench_reach.py [--rounds N] [--json PATH]

It measures, in one run (every comparison a ratio taken in the same round, the two sides alternating
request by request):

1. per-test overhead of the fixtures, exactly their bodies: `emulator` (a namespace on the session app,
   entered and reset) and `emulator_server` (the same namespace, plus its HTTP handle; set-up and reset go
   in-process now); target for the in-process fixture: at most 0.5 ms;
2. an httpx call intercepted (`emulator.interception.intercept` over the in-process emulator, the client
   calling `https://api.liveperson.net/...`) vs the same call through `httpx.WSGITransport` on the same app
   (a client that picks its transport as httpx does, out of the interception's reach): a Domain API read
   and `anonymous/authorize`; target: at most 1.3x;
3. an HTTPS request through the proxy (`requests`, `proxies=`, one keep-alive tunnel) vs the same request
   straight to the emulator's TLS server (`BackgroundTlsServer`, one keep-alive connection): the Domain API
   read; target: at most 2x. As info, the same with a new connection per request (handshakes included).

Not part of the test suite (pytest collects only `tests/`).
"""

from __future__ import annotations

import gc
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_foundation, also when run from elsewhere

import httpx
import requests
from bench_foundation import (  # also puts the repository on sys.path when needed
    Figure,
    Pair,
    Run,
    Stats,
    bench_arguments,
    environment,
    figure,
    measure_interleaved,
    pair_figures,
    serialisable,
    table,
    timed,
    warm_up,
)

from emulator.app import create_app
from emulator.client import AppTransport, HttpTransport
from emulator.config import EmulatorConfig
from emulator.interception import intercept
from emulator.pytest_plugin.core import _over, emulator_namespace
from emulator.serving.proxy import ProxyServer
from emulator.serving.server import BackgroundServer, BackgroundTlsServer
from emulator.serving.tls import write_self_signed
from emulator.web import NAMESPACE_HEADER

FIXTURE_ITERATIONS = 2000
FIXTURE_TARGET_MS = 0.5
HTTPX_ITERATIONS = 1000
HTTPX_TARGET = 1.3
PROXY_ITERATIONS = 300
PROXY_TARGET = 2.0
NEW_CONNECTION_ITERATIONS = 40


# --- 1. fixtures --------------------------------------------------------------------------------------


def fixture_bodies(app: Any, server_url: str) -> dict[str, Callable[[], None]]:
    def in_process() -> None:
        with emulator_namespace(AppTransport(app)):
            pass

    def over_http() -> None:
        with emulator_namespace(AppTransport(app)) as handle:
            _over(handle, HttpTransport(server_url), server_url)

    return {"emulator": in_process, "emulator_server": over_http}


def measure_fixtures(bodies: dict[str, Callable[[], None]]) -> dict[str, Stats]:
    warm_up(*bodies.values())
    results = {}
    for name, body in bodies.items():
        gc.collect()
        results[name] = Stats.of(timed(body, FIXTURE_ITERATIONS))
    return results


# --- 2. httpx ----------------------------------------------------------------------------------------


def seeded_account(app: Any) -> tuple[str, str]:
    """(namespace, account id) of a LivePerson account seeded in a fresh namespace of the session app."""
    account = str(secrets.randbelow(9 * 10**7) + 10**7)
    namespace = f"bench-{secrets.token_hex(4)}"
    with emulator_namespace(AppTransport(app)) as handle:
        pass  # a name only; the seed below goes to a namespace that outlives the block
    handle.control.in_namespace(namespace).seed({"liveperson": {"accounts": [{"id": account}]}})
    return namespace, account


def ok(response: Any) -> None:
    status = getattr(response, "status_code", None)
    if status not in (200, 201):
        raise RuntimeError(f"unexpected answer {status}: {getattr(response, 'text', '')[:200]}")


class UninterceptedClient(httpx.Client):
    """An httpx client as httpx itself picks its transport (no mounts: its own), out of respx's reach."""

    def _transport_for_url(self, url: httpx.URL) -> httpx.BaseTransport:
        return self._transport


def httpx_pairs(app: Any, namespace: str, account: str) -> list[Pair]:
    intercepted = httpx.Client()
    direct = UninterceptedClient(
        transport=httpx.WSGITransport(app=app),
        base_url="https://api.liveperson.net",
        headers={NAMESPACE_HEADER: namespace},
    )
    read = f"/api/account/{account}/service/idp/baseURI.json?version=1.0"
    issue = f"/api/account/{account}/anonymous/authorize"
    return [
        Pair("read", lambda: ok(intercepted.get("https://api.liveperson.net" + read)), lambda: ok(direct.get(read))),
        Pair(
            "authorize",
            lambda: ok(intercepted.post("https://va.idp.liveperson.net" + issue)),
            lambda: ok(direct.post(issue)),
        ),
    ]


# --- 3. proxy ----------------------------------------------------------------------------------------


def proxy_pairs(tls_url: str, tls_ca: str, proxy: ProxyServer, account: str) -> tuple[Pair, Pair]:
    path = f"/api/account/{account}/service/idp/baseURI.json?version=1.0"
    direct, proxied = requests.Session(), requests.Session()
    direct.verify, direct.trust_env = tls_ca, False
    proxied.verify, proxied.trust_env = str(proxy.ca_path), False
    proxied.proxies = {"https": proxy.url}
    kept = Pair(
        "read", lambda: ok(proxied.get("https://api.liveperson.net" + path)), lambda: ok(direct.get(tls_url + path))
    )

    def fresh(session_of: Callable[[], requests.Session], url: str) -> Callable[[], None]:
        def call() -> None:
            with session_of() as session:
                ok(session.get(url))

        return call

    def new_direct() -> requests.Session:
        session = requests.Session()
        session.verify, session.trust_env = tls_ca, False
        return session

    def new_proxied() -> requests.Session:
        session = requests.Session()
        session.verify, session.trust_env, session.proxies = str(proxy.ca_path), False, {"https": proxy.url}
        return session

    new = Pair(
        "read, new connection",
        fresh(new_proxied, "https://api.liveperson.net" + path),
        fresh(new_direct, tls_url + path),
    )
    return kept, new


# --- main --------------------------------------------------------------------------------------------


def summarise(run: Run) -> list[Figure]:
    rounds = run.rounds
    figures = [
        figure(
            "1",
            "emulator fixture: set-up + reset",
            "ms",
            [(r["fixtures"]["emulator"].median_ms, r["fixtures"]["emulator"].p99_ms) for r in rounds],
            target=FIXTURE_TARGET_MS,
        ),
        figure(
            "1",
            "emulator_server fixture: set-up + reset",
            "ms",
            [(r["fixtures"]["emulator_server"].median_ms, r["fixtures"]["emulator_server"].p99_ms) for r in rounds],
        ),
    ]
    for name in ("read", "authorize"):
        figures += pair_figures(
            "2",
            "intercepted",
            f"httpx {name}, intercepted",
            f"httpx {name}, WSGITransport",
            [r["httpx"][name] for r in rounds],
            HTTPX_TARGET,
        )
    figures += pair_figures(
        "3",
        "proxied",
        "HTTPS read through the proxy",
        "HTTPS read, direct",
        [r["proxy"]["read"] for r in rounds],
        PROXY_TARGET,
    )
    figures += pair_figures(
        "3",
        "proxied",
        "HTTPS read through the proxy, new connection",
        "HTTPS read, direct, new connection",
        [r["proxy"]["read, new connection"] for r in rounds],
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    args = bench_arguments(__doc__, argv)
    started = time.perf_counter()
    app = create_app(EmulatorConfig())
    folder = Path(tempfile.mkdtemp(prefix="bench-reach-"))
    cert, key, ca = write_self_signed(folder / "tls")
    namespace, account = seeded_account(app)
    run = Run()
    with (
        BackgroundServer(app) as server,
        BackgroundTlsServer(app, str(cert), str(key)) as tls,
        ProxyServer(app, folder / "proxy") as proxy,
    ):
        bodies = fixture_bodies(app, server.url)
        kept, new = proxy_pairs(tls.url, str(ca), proxy, account)
        pairs = httpx_pairs(app, namespace, account)
        interception = intercept(AppTransport(app), namespace=namespace)
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds} ...", file=sys.stderr, flush=True)
            with interception:  # on for the httpx pairs only: `requests` must reach the proxy
                intercepted = {pair.name: measure_interleaved(pair, HTTPX_ITERATIONS) for pair in pairs}
            run.rounds.append(
                {
                    "fixtures": measure_fixtures(bodies),
                    "httpx": intercepted,
                    "proxy": {
                        "read": measure_interleaved(kept, PROXY_ITERATIONS),
                        "read, new connection": measure_interleaved(new, NEW_CONNECTION_ITERATIONS),
                    },
                }
            )
    figures = summarise(run)
    print(table(figures, args.rounds))
    misses = [f.name.strip() for f in figures if f.result == "MISS"]
    print(
        f"\n{len(figures)} figures, {sum(f.result == 'PASS' for f in figures)} PASS, {len(misses)} MISS"
        f" ({args.rounds} rounds, {time.perf_counter() - started:.0f} s; ratios per round, medians over rounds)"
    )
    if args.json:
        document = {
            "environment": environment(),
            "figures": [f.to_dict() for f in figures],
            "rounds": [serialisable(r) for r in run.rounds],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
