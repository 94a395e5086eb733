"""The `messaging-auth-emulator` command: `serve` a standalone emulator, `replay` scenario files."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from . import __version__
from .app import create_app
from .config import DEMO_SEED_PATH, EmulatorConfig, Seed, SeedError, load_seed_file
from .client import AppTransport, HttpTransport
from .scenarios import ScenarioError, ScenarioRunner, StepResult, load_scenario
from .scenarios.junit import write_junit
from .server import run_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="messaging-auth-emulator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator as an HTTP server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in docker)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free port)")
    serve.add_argument("--seed", metavar="FILE", help=f"seed file, YAML or JSON (default: the demo seed {DEMO_SEED_PATH.name})")
    serve.add_argument("--public-host", metavar="HOST[:PORT]", help="host the Domain API hands out (default: the request's Host)")
    replay = commands.add_parser("replay", help="run scenario files; exit status 0 only if every step held")
    replay.add_argument("files", nargs="+", metavar="FILE", help="scenario files (YAML)")
    replay.add_argument("--target", metavar="URL", help="a running emulator (default: one in this process)")
    replay.add_argument("--junit", metavar="PATH", help="also write a JUnit XML report there")
    replay.add_argument("--keep", action="store_true", help="keep each scenario's namespace instead of resetting it")
    return parser


def _walkthrough(seed: Seed, base_url: str) -> str:
    """The seeded tenants, and a curl walk-through of LivePerson's unauthenticated flow."""
    lines = [f"messaging-auth-emulator {__version__} listening on {base_url}", ""]
    accounts = seed.liveperson.accounts if seed.liveperson else []
    for account in accounts:
        lines.append(f"LivePerson account {account.id}")
        for connector in account.connectors:
            lines.append(f"  connector {connector.id} ({connector.type})")
        for user in account.users:
            secret = f"password {user.password}" if user.password is not None else f"app_key {user.app_key}"
            lines.append(f"  user {user.username} ({secret})")
        for app in account.apps:
            lines.append(f"  app client_id {app.client_id} client_secret {app.client_secret}")
    unauth = next(
        ((a.id, c.id) for a in accounts if a.has_feature("Messaging.Un_Auth_Messaging") for c in a.connectors if c.type == "unauthenticated"),
        None,
    )
    if unauth:
        account_id, connector_id = unauth
        json_header = "-H 'Content-Type: application/json'"
        lines += [
            "",
            "Unauthenticated consumer walk-through (needs curl and jq):",
            f"  BASE={base_url} ACCOUNT={account_id} CONNECTOR={connector_id}",
            '  curl -s "$BASE/api/account/$ACCOUNT/service/idp/baseURI.json?version=1.0"',
            '  curl -s "$BASE/api/account/$ACCOUNT/configuration/le-connectors/all-connectors"',
            f'  EXT=$(curl -s -X POST {json_header} "$BASE/api/account/$ACCOUNT/anonymous/authorize" | jq -r .token)',
            f"  curl -s -X POST {json_header} -d \"{{\\\"id_token\\\":\\\"$EXT\\\"}}\" \"$BASE/api/account/$ACCOUNT/app/$CONNECTOR/authenticate?v=3.0\"",
            f"  curl -s -X POST {json_header} -d '{{\"advance\":\"11m\"}}' \"$BASE/__emulator/clock\"   # the exchange is now refused",
            f"  EXT=$(curl -s -X POST {json_header} -d \"{{\\\"id_token\\\":\\\"$EXT\\\"}}\" \"$BASE/api/account/$ACCOUNT/anonymous/authorize\" | jq -r .token)   # refresh",
        ]
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    seed_path = args.seed or DEMO_SEED_PATH
    try:
        seed = load_seed_file(seed_path)
    except SeedError as exc:
        print(f"messaging-auth-emulator: invalid seed: {exc}", file=sys.stderr)
        return 2
    app = create_app(EmulatorConfig(seed=seed, public_host=args.public_host))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def announce(port: int) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address in a URL
        print(f"seed: {seed_path}", flush=True)
        print(_walkthrough(seed, f"http://{host}:{port}"), flush=True)

    run_server(app, args.host, args.port, on_ready=announce)
    return 0


def _replay(args: argparse.Namespace) -> int:
    try:
        scenarios = [load_scenario(path) for path in args.files]
    except ScenarioError as exc:
        print(f"messaging-auth-emulator: invalid scenario: {exc}", file=sys.stderr)
        return 2
    transport = HttpTransport(args.target) if args.target else AppTransport(create_app())
    runner = ScenarioRunner(transport, on_step=_print_step)
    results = []
    for scenario in scenarios:
        print(f"scenario {scenario.name} ({scenario.source})", flush=True)
        results.append(runner.run(scenario, keep=args.keep))
    if args.junit:
        write_junit(results, args.junit)
    passed = sum(result.ok for result in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


def _print_step(step: StepResult) -> None:
    print(f"  {'ok  ' if step.ok else 'FAIL'} {step.where} {step.label}", flush=True)
    if not step.ok:
        for line in step.details:
            print(f"       {line}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _replay(args) if args.command == "replay" else _serve(args)
