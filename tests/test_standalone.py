"""`messaging-auth-emulator serve` as a standalone server, run for real as a subprocess: the state file
(restore at start, atomic saves on SIGTERM and every --save-interval), graceful SIGTERM, EMULATOR_*
environment variables, --log-json and the warning for a non-loopback host without a control token.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest
import requests
import yaml
from emulator_process import EmulatorProcess

from emulator import DEMO_SEED_PATH
from emulator.app import create_app
from emulator.config import EmulatorConfig, load_seed_file
from emulator.serving.persistence import StateFileError, read_state_file, restore_state, save_state

MODULE = (sys.executable, "-m", "emulator", "serve")
DEADLINE_SECONDS = 20.0
DEMO_ACCOUNT = "12345678"
OTHER_ACCOUNT = "87654321"
OTHER_SEED = {
    "liveperson": {"accounts": [{"id": OTHER_ACCOUNT, "connectors": [{"id": "1357", "type": "unauthenticated"}]}]}
}


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """`start(*args, env=...)` runs `serve ARGS` (without this process's EMULATOR_* variables, plus `env`)
    and waits for its banner; every server is SIGTERMed at the end."""
    servers: list[EmulatorProcess] = []

    def run(*args: str, env: Mapping[str, str] | None = None, default_port: bool = True) -> EmulatorProcess:
        command = [*MODULE, *(("--port", "0") if default_port else ()), *args]
        server = EmulatorProcess(command, tmp_path, env=env or {})
        servers.append(server)
        server.wait_for_banner(time.monotonic() + DEADLINE_SECONDS)
        return server

    yield run
    for server in servers:
        server.stop(signal.SIGTERM, DEADLINE_SECONDS)


def post(url: str, path: str, body: object = None) -> requests.Response:
    return requests.post(url + path, json=body, timeout=5)


def authorize(url: str, account: str, token: str | None = None) -> requests.Response:
    return post(url, f"/api/account/{account}/anonymous/authorize", None if token is None else {"id_token": token})


def clock_now(url: str) -> datetime:
    return datetime.fromisoformat(
        requests.get(url + "/__emulator/clock", timeout=5).json()["now"].replace("Z", "+00:00")
    )


def domain_host(url: str, account: str) -> str:
    reply = requests.get(f"{url}/api/account/{account}/service/idp/baseURI.json", params={"version": "1.0"}, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()["baseURI"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_seed(tmp_path: Path) -> Path:
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(OTHER_SEED), encoding="utf-8")
    return path


# --- persistence -----------------------------------------------------------------------------------


def test_state_survives_a_sigterm_and_restart(start, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = start("--state-file", str(state), "--save-interval", "0")
    token = authorize(first.base_url, DEMO_ACCOUNT).json()["token"]
    assert post(first.base_url, "/__emulator/clock", {"advance": "5m"}).status_code == 200
    assert not state.exists()  # --save-interval 0: saved only on shutdown
    assert first.stop(signal.SIGTERM, DEADLINE_SECONDS) == 0, first.output()
    assert state.exists() and "state saved to" in first.stderr()
    assert not list(tmp_path.glob(".state.json.*"))  # no temp file left behind

    second = start("--state-file", str(state))
    assert f"loaded state from {state} (1 namespaces)\n" in second.stdout()
    ahead = (clock_now(second.base_url) - datetime.now().astimezone()).total_seconds()
    assert 290 < ahead < 310, ahead
    refreshed = authorize(second.base_url, DEMO_ACCOUNT, token)
    assert refreshed.status_code == 200, refreshed.text
    assert second.stop(signal.SIGTERM, DEADLINE_SECONDS) == 0, second.output()


def test_the_state_file_wins_over_the_seed(start, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    app = create_app(EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH)))
    assert save_state(app, state) == 1
    server = start("--state-file", str(state), "--seed", str(write_seed(tmp_path)))
    assert domain_host(server.base_url, DEMO_ACCOUNT)
    assert authorize(server.base_url, OTHER_ACCOUNT).status_code == 401  # the seed was not loaded
    assert "seed:" not in server.stdout() and f"loaded state from {state}" in server.stdout()


def test_without_a_state_file_yet_the_seed_initialises_it(start, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    seed = write_seed(tmp_path)
    server = start("--state-file", str(state), "--seed", str(seed), "--save-interval", "1")
    assert f"seed: {seed}\n" in server.stdout()
    assert authorize(server.base_url, OTHER_ACCOUNT).status_code == 200
    deadline = time.monotonic() + 10
    while not state.exists():  # the interval save, with no shutdown
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)  # noqa: sleep-ok: bounded poll for the saver thread
    assert server.exit_status() is None
    restored = create_app()
    restore_state(restored, state)
    assert restored.extensions["emulator"].store.namespace_of("liveperson", OTHER_ACCOUNT) == "default"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\xffgarbage", "not valid JSON"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'{"namespaces": {"default": {"clock": "soon"}}}', "not a saved emulator state"),
        (b'{"namespaces": {"default": {}, "bad name!": {}}}', "invalid namespace name"),
        (b"", "the file is empty"),
        (b'{"version": 1, "namespaces": {"default": {"clock": {', "the document ends early"),
        (b'{"version": 2, "namespaces": {}}', "version 2 is not one this emulator reads"),
        (b'{"version": 1}', "no 'namespaces' object"),
    ],
    ids=["garbage", "a-list", "bad-clock", "one-bad-namespace", "empty", "cut-short", "other-version", "no-namespaces"],
)
def test_a_corrupt_state_file_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(content)
    done = subprocess.run(
        [*MODULE, "--port", "0", "--state-file", str(state)],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        f"messaging-auth-emulator: invalid state file {state}: "
    )
    assert expected in done.stderr
    assert "listening on" not in done.stdout
    assert state.read_bytes() == content  # left as it was


def test_temp_files_of_a_killed_save_are_removed_at_start(start, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    stale = [tmp_path / ".state.json.k9x2_a.tmp", tmp_path / ".state.json.7hq.tmp"]
    kept = [tmp_path / ".other.json.k9x2_a.tmp", tmp_path / "state.json.tmp"]
    for path in stale + kept:
        path.write_text('{"namespaces": {')
    server = start("--state-file", str(state))
    assert not any(path.exists() for path in stale), server.output()
    assert all(path.exists() for path in kept)


def test_restore_is_all_or_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"namespaces": {"default": {}, "other": {"clock": {"offset": "x"}}}}')
    app = create_app(EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH)))
    before = app.extensions["emulator"].store.export()
    with pytest.raises(StateFileError, match=re.escape(str(state))):
        restore_state(app, state)
    assert app.extensions["emulator"].store.export() == before
    with pytest.raises(StateFileError, match="cannot read"):
        read_state_file(tmp_path / "absent.json")


# --- configuration ---------------------------------------------------------------------------------


def test_environment_variables_configure_the_server(start, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "EMULATOR_HOST": "127.0.0.1",
        "EMULATOR_PORT": str(port),
        "EMULATOR_SEED": str(write_seed(tmp_path)),
        "EMULATOR_PUBLIC_HOST": "env.example:9000",
        "EMULATOR_SAVE_INTERVAL": "7",
        "EMULATOR_STATE_FILE": str(tmp_path / "env-state.json"),
    }
    server = start(env=env, default_port=False)
    assert server.base_url == f"http://127.0.0.1:{port}"
    assert domain_host(server.base_url, OTHER_ACCOUNT) == "env.example:9000"
    assert (
        f"config: host=127.0.0.1 port={port} public_host=env.example:9000 state_file={tmp_path / 'env-state.json'} "
        "save_interval=7 control_token=unset\n"
    ) in server.stdout()
    assert server.stop(signal.SIGTERM, DEADLINE_SECONDS) == 0
    assert (tmp_path / "env-state.json").exists()


def test_flags_beat_environment_variables(start, tmp_path: Path) -> None:
    env = {"EMULATOR_PORT": "1", "EMULATOR_SEED": str(tmp_path / "absent.yaml"), "EMULATOR_PUBLIC_HOST": "env.example"}
    server = start("--seed", str(write_seed(tmp_path)), "--public-host", "flag.example", env=env)
    assert domain_host(server.base_url, OTHER_ACCOUNT) == "flag.example"
    assert "control_token=unset" in server.stdout()


def test_log_json_lines_parse(start) -> None:
    server = start("--log-json", "--host", "0.0.0.0", "--state-file", "state.json")
    assert server.stop(signal.SIGTERM, DEADLINE_SECONDS) == 0
    lines = [json.loads(line) for line in server.stderr().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert [line["level"] for line in lines] == ["WARNING", "INFO"]  # the host warning, then the save on shutdown
    assert lines[1]["message"].startswith("state saved to state.json")


def test_a_non_loopback_host_without_a_token_is_warned_about(start) -> None:
    open_server = start("--host", "0.0.0.0")
    guarded = start("--host", "0.0.0.0", "--control-token", "tok-7f3a9c")
    local = start("--host", "localhost")
    assert (
        open_server.stop(signal.SIGTERM, DEADLINE_SECONDS)
        == guarded.stop(signal.SIGTERM, DEADLINE_SECONDS)
        == local.stop(signal.SIGTERM, DEADLINE_SECONDS)
        == 0
    )
    assert "0.0.0.0 is not a loopback address and no control token is set" in open_server.stderr()
    assert "control_token=set" in guarded.stdout() and "tok-7f3a9c" not in guarded.stdout()
    assert "WARNING" not in guarded.stderr() and "WARNING" not in local.stderr()


def test_invalid_environment_values_are_usage_errors(tmp_path: Path) -> None:
    for env, expected in [
        ({"EMULATOR_LOG_JSON": "maybe"}, "EMULATOR_LOG_JSON"),
        ({"EMULATOR_SAVE_INTERVAL": "-1"}, "--save-interval"),
    ]:
        done = subprocess.run(
            [*MODULE],
            cwd=tmp_path,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
        )
        assert done.returncode == 2 and expected in done.stderr, done.stderr
