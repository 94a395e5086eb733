"""The `messaging-auth-emulator` command: `serve` a standalone emulator, `replay` scenario files, `health`."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import DEMO_SEED_PATH, __version__
from .serving.server import WarmingServer, serve_tls_while_building

if TYPE_CHECKING:  # `serve` listens before it loads the app's modules (the app is built once it listens);
    # `replay` and TLS load theirs when used
    import ssl

    from flask import Flask

    from .config import Seed
    from .scenarios import StepResult
    from .serving.persistence import PeriodicSaver
    from .serving.proxy import ProxyServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="messaging-auth-emulator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the emulator as an HTTP server",
        description="Run the emulator as an HTTP server. Each option can also be set by the environment "
        "variable named in its help (the option wins); stop it with Ctrl-C or SIGTERM.",
    )
    serve.add_argument(
        "--host", default=_env("HOST", "127.0.0.1"), help="address to listen on (0.0.0.0 in docker) [EMULATOR_HOST]"
    )
    serve.add_argument(
        "--port", type=int, default=_env("PORT", "8080"), help="port to listen on (0: any free port) [EMULATOR_PORT]"
    )
    serve.add_argument(
        "--seed",
        metavar="FILE",
        default=_env("SEED"),
        help=f"seed file, YAML or JSON (default: the demo seed {DEMO_SEED_PATH.name}); unused when the state file exists [EMULATOR_SEED]",
    )
    serve.add_argument(
        "--public-host",
        metavar="HOST[:PORT]",
        default=_env("PUBLIC_HOST"),
        help="host the Domain API hands out (default: the request's Host) [EMULATOR_PUBLIC_HOST]",
    )
    serve.add_argument(
        "--state-file",
        metavar="PATH",
        default=_env("STATE_FILE"),
        help="restore the whole state from PATH at start if it exists; save it there on shutdown and "
        "every --save-interval seconds [EMULATOR_STATE_FILE]",
    )
    serve.add_argument(
        "--save-interval",
        metavar="SECONDS",
        type=_seconds,
        default=_env("SAVE_INTERVAL", "30"),
        help="seconds between saves of the state file (default 30; 0: only on shutdown) [EMULATOR_SAVE_INTERVAL]",
    )
    serve.add_argument(
        "--control-token",
        metavar="TOKEN",
        default=_env("CONTROL_TOKEN"),
        help="require this token on the /__emulator control API [EMULATOR_CONTROL_TOKEN]",
    )
    serve.add_argument(
        "--show-secrets",
        action=argparse.BooleanOptionalAction,
        default=_env("SHOW_SECRETS", "false"),
        help="print the seeded passwords, app secrets and keys in the banner (masked by default) [EMULATOR_SHOW_SECRETS]",
    )
    serve.add_argument(
        "--log-json",
        action=argparse.BooleanOptionalAction,
        default=_env("LOG_JSON", "false"),
        help="log one JSON object a line (time, level, logger, message; a request's fields too) [EMULATOR_LOG_JSON]",
    )
    serve.add_argument(
        "--quiet",
        action=argparse.BooleanOptionalAction,
        default=_env("QUIET", "false"),
        help="no request log: by default each request is logged on one line [EMULATOR_QUIET]",
    )
    serve.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        nargs="?",
        const=DEFAULT_TLS_DIR,
        default=_env("TLS_SELF_SIGNED"),
        help=f"serve HTTPS with a fresh self-signed CA and a certificate for localhost, 127.0.0.1 and ::1, "
        f"written to DIR (default ./{DEFAULT_TLS_DIR}); prints the CA to trust [EMULATOR_TLS_SELF_SIGNED]",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="PATH",
        default=_env("TLS_CERT"),
        help="serve HTTPS with this PEM certificate (chain); needs --tls-key [EMULATOR_TLS_CERT]",
    )
    serve.add_argument(
        "--tls-key",
        metavar="PATH",
        default=_env("TLS_KEY"),
        help="the PEM private key of --tls-cert [EMULATOR_TLS_KEY]",
    )
    serve.add_argument(
        "--tls-name",
        metavar="NAME",
        action="append",
        dest="tls_names",
        help="another host name or address of the self-signed certificate (repeatable; --public-host's host is "
        "always there) [EMULATOR_TLS_NAMES, comma-separated]",
    )
    serve.add_argument(
        "--proxy-port",
        metavar="PORT",
        type=int,
        default=_env("PROXY_PORT"),
        help="also run an HTTP/HTTPS forward proxy on this port (0: any free port): the provider hosts are answered "
        "by this emulator under certificates of the proxy's own CA, other hosts refused unless --proxy-pass [EMULATOR_PROXY_PORT]",
    )
    serve.add_argument(
        "--proxy-pass",
        metavar="PATTERN",
        action="append",
        help="a host (fnmatch pattern, such as *.example.com) the proxy relays instead of refusing (repeatable) "
        "[EMULATOR_PROXY_PASS, comma-separated]",
    )
    serve.add_argument(
        "--proxy-ca",
        metavar="DIR",
        default=_env("PROXY_CA", DEFAULT_PROXY_CA_DIR),
        help=f"where the proxy writes its fresh CA (ca.pem, to trust) and the host certificates (default ./{DEFAULT_PROXY_CA_DIR}) [EMULATOR_PROXY_CA]",
    )
    replay = commands.add_parser("replay", help="run scenario files; exit status 0 only if every step held")
    replay.add_argument("files", nargs="+", metavar="FILE", help="scenario files (YAML)")
    replay.add_argument("--target", metavar="URL", help="a running emulator (default: one in this process)")
    replay.add_argument("--junit", metavar="PATH", help="also write a JUnit XML report there")
    replay.add_argument("--keep", action="store_true", help="keep each scenario's namespace instead of resetting it")
    replay.add_argument(
        "--token",
        metavar="TOKEN",
        default=_env("CONTROL_TOKEN"),
        help="the --target emulator's control token [EMULATOR_CONTROL_TOKEN]",
    )
    health = commands.add_parser(
        "health",
        help="exit 0 if the emulator that `serve` with this environment starts answers its health route",
        description="Ask /__emulator/health of the emulator `serve` would start with this environment "
        "(EMULATOR_HOST, EMULATOR_PORT, and https when EMULATOR_TLS_SELF_SIGNED or EMULATOR_TLS_CERT is set); "
        "the certificate is not checked. For a container's HEALTHCHECK.",
    )
    health.add_argument("--url", help="the emulator's base URL instead")
    health.add_argument("--timeout", type=float, default=4.0, help="seconds (default 4)")
    return parser


ENV_PREFIX = "EMULATOR_"
DEFAULT_TLS_DIR = "emulator-tls"
DEFAULT_PROXY_CA_DIR = "emulator-proxy-ca"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env(name: str, default: str | None = None) -> str | None:
    """EMULATOR_<name> when set and not empty, else `default` (argparse converts either with the option's type)."""
    return os.environ.get(ENV_PREFIX + name) or default


def _env_list(name: str) -> list[str]:
    """EMULATOR_<name> as a comma-separated list."""
    return [item.strip() for item in (_env(name) or "").split(",") if item.strip()]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _flag(value: str | bool) -> bool | None:
    """A flag's value: the option's bool, or the environment's text (None when it is neither true nor false)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    return (text in _TRUE) if text in _TRUE | _FALSE else None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message (and exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _configure_logging(as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.x, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MASK = "********"


def _walkthrough(seed: Seed, base_url: str, show_secrets: bool = False) -> str:
    """The banner: each provider's seeded tenants, then their curl walk-throughs; secrets masked unless `show_secrets`."""
    from .providers import PROVIDERS

    def shown(secret: str | None) -> str | None:
        return secret if show_secrets or secret is None else MASK

    lines = [f"messaging-auth-emulator {__version__} listening on {base_url}", ""]
    parts = seed.parts()
    seeded = [spec for spec in PROVIDERS if spec.name in parts]
    for spec in seeded:
        lines += spec.banner.tenants(parts[spec.name], shown)
    for spec in sorted(seeded, key=lambda spec: spec.banner.walkthrough_rank):
        lines += spec.banner.walkthrough(parts[spec.name], base_url, shown)
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    """Listen at once (the health check answers), build the emulator meanwhile (`Startup`), serve until stopped,
    then save the state file."""
    _configure_logging(args.log_json)
    tls_context: ssl.SSLContext | None = None
    tls_lines: list[str] = []
    if args.tls_self_signed or args.tls_cert:
        try:
            tls_context, tls_lines = _tls_setup(args)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            print(f"messaging-auth-emulator: invalid TLS certificate or key: {exc}", file=sys.stderr)
            return 2
    startup = Startup(args, tls_lines)
    try:
        if tls_context is not None:
            app = serve_tls_while_building(startup.build, args.host, args.port, tls_context, on_ready=startup.announce)
        else:
            app = WarmingServer(startup.build, args.host, args.port, on_ready=startup.announce).serve()
    finally:
        startup.stop()
    if app is None:
        return 2  # the build said why
    if args.state_file:
        from .serving.persistence import save_state

        try:
            saved = save_state(app, args.state_file)
        except (OSError, ValueError, TypeError) as exc:
            _log.error("could not save state to %s: %s", args.state_file, exc)
            return 1
        _log.info("state saved to %s (%d namespaces)", args.state_file, saved)
    return 0


_log = logging.getLogger("emulator.cli")


class Startup:
    """What `serve` builds once its socket listens: the app from the state file or the seed, its request log,
    the proxy and the periodic saver; then the banner."""

    def __init__(self, args: argparse.Namespace, tls_lines: list[str]) -> None:
        self.args = args
        self.tls_lines = tls_lines
        self.seed: Seed | None = None
        self.source = ""
        self.saver: PeriodicSaver | None = None
        self.proxy: ProxyServer | None = None
        self.proxy_pass: list[str] = args.proxy_pass if args.proxy_pass is not None else _env_list("PROXY_PASS")

    def build(self, port: int) -> Flask | None:
        """The app; None when the seed, the state file or the options are refused (the reason printed)."""
        from .app import create_app
        from .config import EmulatorConfig, Seed, SeedError, load_seed_file
        from .serving.persistence import PeriodicSaver, StateFileError, remove_stale_temp_files, restore_state
        from .web import request_log

        args = self.args
        state_file: str | None = args.state_file
        config = EmulatorConfig(public_host=args.public_host, control_token=args.control_token)
        if state_file:
            for stale in remove_stale_temp_files(state_file):
                _log.warning("removed %s, left by a save that never finished", stale)
        if state_file and Path(state_file).exists():
            app = create_app(config)  # the state file wins: the seed is not even read
            try:
                restored = restore_state(app, state_file)
            except StateFileError as exc:
                print(f"messaging-auth-emulator: invalid state file {exc}", file=sys.stderr)
                return None
            self.seed, self.source = Seed(), f"loaded state from {state_file} ({len(restored)} namespaces)"
        else:
            seed_path = args.seed or DEMO_SEED_PATH
            try:
                self.seed = load_seed_file(seed_path)
            except SeedError as exc:
                print(f"messaging-auth-emulator: invalid seed: {exc}", file=sys.stderr)
                return None
            app = create_app(replace(config, seed=self.seed))
            self.source = f"seed: {seed_path}"
        if not args.quiet:
            request_log.install(app, sys.stderr, as_json=args.log_json)
        if not is_loopback(args.host) and not args.control_token:
            _log.warning(
                "%s is not a loopback address and no control token is set: anyone who can reach this port can "
                "reset, rewrite or read the emulator's state; set --control-token (EMULATOR_CONTROL_TOKEN)",
                args.host or "(all interfaces)",
            )
        if state_file and args.save_interval > 0:
            self.saver = PeriodicSaver(app, state_file, args.save_interval)
        if args.proxy_port is not None:
            from .serving.proxy import ProxyServer  # loaded when asked for: `serve` starts without it

            self.proxy = ProxyServer(
                app, args.proxy_ca, host=args.host, port=args.proxy_port, passed=self.proxy_pass
            ).start()
        return app

    def announce(self, port: int) -> None:
        """The banner (its `listening on` line tells that the emulator is built), then the periodic saver."""
        args = self.args
        assert self.seed is not None  # built
        host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address in a URL
        print(self.source, flush=True)
        print(
            f"config: host={args.host} port={port} public_host={args.public_host or '-'} state_file={args.state_file or '-'} "
            f"save_interval={args.save_interval:g} control_token={'set' if args.control_token else 'unset'}",
            flush=True,
        )
        if self.tls_lines:
            print("\n".join(self.tls_lines), flush=True)
        if self.proxy is not None:
            from .interception.hosts import PROVIDER_HOST_NAMES  # the package loads `responses`: only for the proxy

            print(
                f"proxy: {self.proxy.url} (HTTPS_PROXY / HTTP_PROXY) answers {', '.join(PROVIDER_HOST_NAMES)}; passes "
                f"{', '.join(self.proxy_pass) or 'no other host'}\ntrust the proxy's CA: {self.proxy.ca_path.resolve()}",
                flush=True,
            )
        print(
            _walkthrough(self.seed, f"{'https' if self.tls_lines else 'http'}://{host}:{port}", args.show_secrets),
            flush=True,
        )
        if self.saver is not None:
            self.saver.start()

    def stop(self) -> None:
        """Stop the proxy and the saver, if they were started."""
        if self.proxy is not None:
            self.proxy.stop()
        if self.saver is not None:
            self.saver.stop()


def _tls_setup(args: argparse.Namespace) -> tuple[ssl.SSLContext, list[str]]:
    """The TLS context of `serve --tls-self-signed` (certificates written first) or `--tls-cert/--tls-key`,
    and the lines that tell a client what to trust."""
    from .serving.tls import server_context, write_self_signed

    if args.tls_self_signed:
        names = certificate_names(args.public_host, args.tls_names)
        cert, key, ca = (path.resolve() for path in write_self_signed(args.tls_self_signed, names=names))
        lines = [
            f"tls: self-signed certificate {cert} key {key} for {', '.join(dict.fromkeys(['localhost', '127.0.0.1', '::1', *names]))}",
            f"trust this CA: NODE_EXTRA_CA_CERTS={ca}",
            f"  (requests: verify={str(ca)!r} or REQUESTS_CA_BUNDLE={ca}; curl: --cacert {ca})",
        ]
    else:
        cert, key = Path(args.tls_cert).resolve(), Path(args.tls_key).resolve()
        lines = [f"tls: certificate {cert} key {key}"]
    return server_context(cert, key), lines


def certificate_names(public_host: str | None, extra: Sequence[str] | None) -> list[str]:
    """The names the self-signed certificate adds: --public-host's host, then --tls-name (else EMULATOR_TLS_NAMES)."""
    names = list(extra) if extra is not None else _env_list("TLS_NAMES")
    host = urlsplit(f"//{public_host}").hostname if public_host else None
    return ([host] if host else []) + names


def default_base_url() -> str:
    """The base URL `serve` listens on with this environment, as seen from this machine."""
    host = _env("HOST", "127.0.0.1") or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard address: ask loopback
    tls = (_flag(_env("TLS_SELF_SIGNED") or "false") is not False) or bool(_env("TLS_CERT"))
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{host}:{_env('PORT', '8080')}"


def _health(args: argparse.Namespace) -> int:
    import ssl
    import urllib.request

    url = (args.url or default_base_url()).rstrip("/") + "/__emulator/health"
    unchecked = ssl.create_default_context()
    unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE  # a liveness probe of a local process
    try:
        with urllib.request.urlopen(url, timeout=args.timeout, context=unchecked) as answer:  # noqa: S310
            status = json.loads(answer.read()).get("status")
    except (OSError, ValueError) as exc:
        print(f"messaging-auth-emulator: {url}: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {status}")
    return 0 if status == "ok" else 1


def _replay(args: argparse.Namespace) -> int:
    from .app import create_app
    from .client import AppTransport, HttpTransport
    from .scenarios import ScenarioError, ScenarioRunner, load_scenario
    from .scenarios.junit import write_junit

    try:
        scenarios = [load_scenario(path) for path in args.files]
    except ScenarioError as exc:
        print(f"messaging-auth-emulator: invalid scenario: {exc}", file=sys.stderr)
        return 2
    transport = HttpTransport(args.target) if args.target else AppTransport(create_app())
    runner = ScenarioRunner(transport, on_step=_print_step, token=args.token)
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


def _check_tls_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--tls-self-signed` or `--tls-cert` with `--tls-key`, not both; EMULATOR_TLS_SELF_SIGNED=true/false
    turns the default folder on or off."""
    self_signed = args.tls_self_signed
    if isinstance(self_signed, str) and self_signed.strip().lower() in _TRUE | _FALSE:
        args.tls_self_signed = DEFAULT_TLS_DIR if self_signed.strip().lower() in _TRUE else None
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together (EMULATOR_TLS_CERT, EMULATOR_TLS_KEY)")
    if args.tls_cert and args.tls_self_signed:
        parser.error("--tls-self-signed and --tls-cert/--tls-key exclude each other")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        for name in ("log_json", "quiet", "show_secrets"):
            setattr(args, name, _flag(getattr(args, name)))
            if getattr(args, name) is None:
                variable = ENV_PREFIX + name.upper()
                parser.error(f"{variable}: expected true or false, got {os.environ[variable]!r}")
        _check_tls_options(parser, args)
    return {"replay": _replay, "health": _health, "serve": _serve}[args.command](args)
