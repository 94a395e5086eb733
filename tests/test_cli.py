"""The `messaging-auth-emulator` command, run for real as a subprocess.

`serve --port 0` is started, its port read from the banner (`listening on http://HOST:PORT`), and
`/__emulator/health` polled until it answers. Every server is stopped with Ctrl-C (SIGINT) by a
fixture, whatever the test did, or with SIGTERM when this process ignores SIGINT (its children would
too), and must then exit with status 0: both are a graceful shutdown.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import jwt
import pytest
import requests
import yaml
from emulator_process import EmulatorProcess, without_emulator_variables

from emulator import __version__
from emulator.client import EmulatorClient

MODULE = (sys.executable, "-m", "emulator")
CONSOLE_SCRIPT = Path(sys.executable).with_name("messaging-auth-emulator")
LAUNCHERS = {"module": MODULE, "console-script": (str(CONSOLE_SCRIPT),)}
STARTUP_SECONDS = 20.0
DEMO_ACCOUNT = "12345678"
DEMO_CONNECTOR = "2468"
JSON_HEADERS = {"Content-Type": "application/json"}


def clean_exit() -> int:
    """The status of a server stopped by `EmulatorProcess.stop`: 0, after Ctrl-C as after SIGTERM."""
    return 0


def wait_until_serving(server: EmulatorProcess) -> str:
    """The server's base URL, once its banner is out and its health check answers."""
    deadline = time.monotonic() + STARTUP_SECONDS
    server.wait_for_banner(deadline)
    if not _is_http_url_with_port(server.announced_url):
        pytest.fail(f"the banner's address {server.announced_url!r} is not an http://HOST:PORT URL:\n{server.output()}")
    return server.wait_for_health(deadline)


def _is_http_url_with_port(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme == "http" and bool(parts.hostname) and bool(parts.port)
    except ValueError:
        return False


StartServer = Callable[..., EmulatorProcess]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServer]:
    """`serve("--seed", path)` starts `serve --host 127.0.0.1 --port 0 ...` and waits for it to answer;
    every server started is stopped at the end of the test, and must exit cleanly."""
    exits: dict[EmulatorProcess, int] = {}
    with ExitStack() as stack:

        def start(*args: str, launcher: Sequence[str] = MODULE) -> EmulatorProcess:
            server = EmulatorProcess([*launcher, "serve", "--host", "127.0.0.1", "--port", "0", *args], tmp_path)
            stack.callback(lambda: exits.setdefault(server, server.stop()))
            wait_until_serving(server)
            return server

        yield start
    failed = {server.base_url: status for server, status in exits.items() if status != clean_exit()}
    assert not failed, f"servers did not exit cleanly when stopped: {failed}"


def run_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command that should end by itself (help, bad arguments, bad seeds)."""
    return subprocess.run(
        [*MODULE, *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=STARTUP_SECONDS
    )


# --- HTTP helpers ----------------------------------------------------------------------------------


def get(base_url: str, path: str, **params: str) -> requests.Response:
    return requests.get(base_url + path, params=params, timeout=10)


def post(base_url: str, path: str, body: object = None, **params: str) -> requests.Response:
    data = None if body is None else json.dumps(body)
    return requests.post(base_url + path, data=data, params=params, headers=JSON_HEADERS, timeout=10)


def idp_base_uri(base_url: str, account: str) -> str:
    reply = get(base_url, f"/api/account/{account}/service/idp/baseURI.json", version="1.0")
    assert reply.status_code == 200, reply.text
    return reply.json()["baseURI"]


def authorize(base_url: str, account: str, ext_jwt: str | None = None) -> requests.Response:
    body = None if ext_jwt is None else {"id_token": ext_jwt}
    return post(base_url, f"/api/account/{account}/anonymous/authorize", body)


def authenticate(base_url: str, account: str, connector: str, ext_jwt: str) -> requests.Response:
    return post(base_url, f"/api/account/{account}/app/{connector}/authenticate", {"id_token": ext_jwt}, v="3.0")


def json_documents(text: str) -> list:
    """The JSON documents printed one after another (curl -s adds no newline between them)."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    return documents


def write_seed(directory: Path, name: str, seed: dict, as_json: bool = False) -> Path:
    path = directory / name
    path.write_text(json.dumps(seed) if as_json else yaml.safe_dump(seed), encoding="utf-8")
    return path


# --- serve with the demo seed ----------------------------------------------------------------------


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_banner_announces_the_demo_seed_and_its_walkthrough(serve: StartServer, launcher: str) -> None:
    if not Path(LAUNCHERS[launcher][0]).exists():
        pytest.skip(f"{CONSOLE_SCRIPT} is not installed next to this interpreter")
    server = serve(launcher=LAUNCHERS[launcher])
    assert server.stop() == clean_exit()
    banner = server.stdout()
    assert re.search(r"^seed: .*demo_seed\.yaml$", banner, re.MULTILINE), banner
    assert f"listening on {server.base_url}\n" in banner
    assert f"LivePerson account {DEMO_ACCOUNT}\n" in banner
    assert f"  connector {DEMO_CONNECTOR} (unauthenticated)\n" in banner
    assert "Unauthenticated consumer walk-through" in banner
    assert f"BASE={server.base_url} ACCOUNT={DEMO_ACCOUNT} CONNECTOR={DEMO_CONNECTOR}" in banner
    for step in ("service/idp/baseURI.json", "anonymous/authorize", "/authenticate?v=3.0", '{"advance":"11m"}'):
        assert re.search(rf"^  (EXT=\$\()?curl .*{re.escape(step)}", banner, re.MULTILINE), step


def test_demo_seed_flow_over_http(serve: StartServer) -> None:
    base_url = serve().base_url
    assert idp_base_uri(base_url, DEMO_ACCOUNT) == base_url.removeprefix("http://")
    connectors = get(base_url, f"/api/account/{DEMO_ACCOUNT}/configuration/le-connectors/all-connectors").json()
    assert [c["id"] for c in connectors] == [int(DEMO_CONNECTOR)]

    ext_jwt = authorize(base_url, DEMO_ACCOUNT).json()["token"]
    exchanged = authenticate(base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, ext_jwt)
    assert exchanged.status_code == 200, exchanged.text
    lp_jwt = exchanged.json()["token"]
    assert jwt.get_unverified_header(lp_jwt)["kid"] == "00001"
    assert jwt.decode(lp_jwt, options={"verify_signature": False})["aud"] == f"acc:{DEMO_ACCOUNT}"

    assert post(base_url, "/__emulator/clock", {"advance": "11m"}).status_code == 200
    refused = authenticate(base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, ext_jwt)
    assert (refused.status_code, refused.json()) == (401, {"internalErrorCode": "9007"})
    refreshed = authorize(base_url, DEMO_ACCOUNT, ext_jwt)
    assert refreshed.status_code == 200, refreshed.text
    assert authenticate(base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, refreshed.json()["token"]).status_code == 200


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the walk-through needs curl and jq")
def test_the_printed_curl_walkthrough_runs(serve: StartServer) -> None:
    server = serve()
    server.wait_for_line(re.compile(r"# refresh$"), time.monotonic() + STARTUP_SECONDS)  # its last line
    steps = server.stdout().split("walk-through (needs curl and jq):\n", 1)[1].splitlines()
    script = "\n".join(line.strip() for line in steps if line.strip())
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + '\nprintf "\\nEXT=%s\\n" "$EXT"'],
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
    )
    assert run.returncode == 0, run.stderr
    printed, refreshed = run.stdout.rsplit("\nEXT=", 1)
    domain, connectors, exchanged, clock = json_documents(printed)  # what the four plain curls printed
    assert domain["baseURI"] == server.base_url.removeprefix("http://")
    assert [c["id"] for c in connectors] == [int(DEMO_CONNECTOR)]
    assert jwt.get_unverified_header(exchanged["token"])["kid"] == "00001"
    assert clock["frozen"] is False
    assert authenticate(server.base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, refreshed.strip()).status_code == 200


@pytest.mark.skipif(not shutil.which("curl"), reason="the walk-through needs curl")
def test_the_printed_sunshine_walkthrough_runs(serve: StartServer) -> None:
    server = serve("--show-secrets")  # the curl lines hold the app key's secret
    server.wait_for_line(re.compile(r"# refresh$"), time.monotonic() + STARTUP_SECONDS)  # the banner's last line
    section = server.stdout().split("Sunshine walk-through (Basic with the app key):\n", 1)[1].split("\n\n", 1)[0]
    script = "\n".join(line.strip() for line in section.splitlines() if line.strip())
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=STARTUP_SECONDS
    )
    assert run.returncode == 0, run.stderr
    created, fetched = json_documents(run.stdout)
    assert created["user"]["externalId"] == "ext-1" and fetched == created


def test_public_host_is_what_the_domain_api_hands_out(serve: StartServer) -> None:
    base_url = serve("--public-host", "example.test:9000").base_url
    assert idp_base_uri(base_url, DEMO_ACCOUNT) == "example.test:9000"
    every = get(base_url, f"/api/account/{DEMO_ACCOUNT}/service/baseURI.json", version="1.0").json()["baseURIs"]
    assert {entry["baseURI"] for entry in every} == {"example.test:9000"}


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_host_is_announced_as_a_usable_url(serve: StartServer) -> None:
    server = serve("--host", "::1")  # overrides the fixture's --host; the banner must say http://[::1]:PORT
    assert urlsplit(server.base_url).hostname == "::1"
    assert idp_base_uri(server.base_url, DEMO_ACCOUNT) == server.base_url.removeprefix("http://")


# --- custom seeds ----------------------------------------------------------------------------------

CUSTOM_SEED = {
    "liveperson": {
        "accounts": [
            {
                "id": "87654321",
                "settings": {"ext_jwt_ttl": "2m"},
                "connectors": [{"id": "1357", "type": "unauthenticated"}],
                "users": [{"username": "alice", "password": "wonderland"}],
            }
        ]
    }
}


@pytest.mark.parametrize("as_json", [False, True], ids=["yaml", "json"])
def test_seed_file_replaces_the_demo_seed(serve: StartServer, tmp_path: Path, as_json: bool) -> None:
    seed_path = write_seed(tmp_path, "seed.json" if as_json else "seed.yaml", CUSTOM_SEED, as_json)
    server = serve("--seed", str(seed_path))
    base_url = server.base_url

    ext_jwt = authorize(base_url, "87654321").json()["token"]
    issued = jwt.decode(ext_jwt, options={"verify_signature": False})
    assert issued["exp"] - issued["iat"] == 120
    assert authenticate(base_url, "87654321", "1357", ext_jwt).status_code == 200
    assert get(base_url, f"/api/account/{DEMO_ACCOUNT}/service/idp/baseURI.json").status_code == 401

    assert server.stop() == clean_exit()
    banner = server.stdout()
    assert f"seed: {seed_path}\n" in banner
    assert "LivePerson account 87654321\n  connector 1357 (unauthenticated)\n  user alice (password ********)" in banner
    assert "wonderland" not in banner
    assert "BASE=" in banner and "ACCOUNT=87654321 CONNECTOR=1357" in banner
    assert DEMO_ACCOUNT not in banner


def test_show_secrets_prints_the_seeded_secrets(serve: StartServer, tmp_path: Path) -> None:
    server = serve("--seed", str(write_seed(tmp_path, "seed.yaml", CUSTOM_SEED)), "--show-secrets")
    assert server.stop() == clean_exit()
    assert "  user alice (password wonderland)" in server.stdout()


def test_seed_without_unauthenticated_messaging_prints_no_walkthrough(serve: StartServer, tmp_path: Path) -> None:
    account = {"id": "11112222", "features": [], "connectors": [{"id": "99", "type": "unauthenticated"}]}
    server = serve("--seed", str(write_seed(tmp_path, "seed.yaml", {"liveperson": {"accounts": [account]}})))
    assert authorize(server.base_url, "11112222").status_code == 403
    assert server.stop() == clean_exit()
    assert "LivePerson account 11112222" in server.stdout()
    assert "walk-through" not in server.stdout()


@pytest.mark.parametrize(
    ("seed_text", "expected"),
    [
        (b'liveperson:\n  accounts:\n    - id: "not-a-number"\n', "liveperson.accounts[0].id: expected a numeric id"),
        (
            b'liveperson:\n  accounts:\n    - id: "1"\n      connectors: [{id: "5", type: carrier-pigeon}]\n',
            "liveperson.accounts[0].connectors[0].type",
        ),
        (b'liveperson:\n  accounts:\n    - {id: "1"}\n    - {id: "1"}\n', "duplicate account id '1'"),
        (b"whatsapp: {}\n", "whatsapp: unknown field"),
        (b"liveperson: [unclosed\n", "not valid YAML or JSON"),
        (b"- just\n- a list\n", "a seed is a mapping"),
        # a seed saved in Latin-1 (the \xe9 of "Caf\xe9"): no field to name, but still an invalid seed
        (
            b'liveperson:\n  accounts:\n    - id: "1"\n      connectors: [{id: "5", type: unauthenticated, name: "Caf\xe9"}]\n',
            "",
        ),
    ],
    ids=[
        "bad-id",
        "bad-connector-type",
        "duplicate-account",
        "unknown-provider",
        "not-yaml",
        "not-a-mapping",
        "not-utf8",
    ],
)
def test_invalid_seed_exits_2_and_says_why(tmp_path: Path, seed_text: bytes, expected: str) -> None:
    seed_path = tmp_path / "seed.yaml"
    seed_path.write_bytes(seed_text)
    result = run_command("serve", "--port", "0", "--seed", str(seed_path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("messaging-auth-emulator: invalid seed: "), result.stderr
    assert expected in result.stderr
    assert str(seed_path) in result.stderr
    assert "listening on" not in result.stdout


def test_missing_seed_file_exits_2(tmp_path: Path) -> None:
    result = run_command("serve", "--port", "0", "--seed", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot read seed file {tmp_path / 'absent.yaml'}" in result.stderr


# --- usage -----------------------------------------------------------------------------------------


def test_help(tmp_path: Path) -> None:
    top = run_command("--help", cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("usage: messaging-auth-emulator")
    assert "serve" in top.stdout

    serve_help = run_command("serve", "--help", cwd=tmp_path)
    assert serve_help.returncode == 0, serve_help.stderr
    for option in ("--host", "--port", "--seed", "--public-host"):
        assert option in serve_help.stdout


def test_version(tmp_path: Path) -> None:
    result = run_command("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, f"messaging-auth-emulator {__version__}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), "the following arguments are required"), (("serve", "--port", "eighty"), "invalid int value")],
    ids=["no-command", "bad-port"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = run_command(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr


# --- faults and token lifecycle through the control API of a server in another process -------------


def test_faults_and_expiry_through_a_separate_server_process(serve: StartServer) -> None:
    base_url = serve().base_url
    control = EmulatorClient(base_url)
    control.add_fault("status", status=503, times=1, match={"path": "/api/account/*/anonymous/authorize"})
    assert authorize(base_url, DEMO_ACCOUNT).status_code == 503
    ext_jwt = authorize(base_url, DEMO_ACCOUNT).json()["token"]
    assert [(rule["matched"], rule["fired"]) for rule in control.faults()] == [(2, 1)]

    control.expire(ext_jwt)
    refused = authenticate(base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, ext_jwt)
    assert (refused.status_code, refused.headers["X-Emulator-Reason"]) == (401, "expired")
    control.add_fault("reset", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        authorize(base_url, DEMO_ACCOUNT, ext_jwt)
    assert authorize(base_url, DEMO_ACCOUNT, ext_jwt).status_code == 200
    calls = control.assert_called(method="POST", path="/api/account/*/anonymous/authorize", times=4)
    assert [call["status"] for call in calls] == [503, 200, 0, 200]  # 0: the connection was dropped


def test_serve_with_a_proxy_answers_the_real_host_names(serve: StartServer, tmp_path: Path) -> None:
    server = serve("--proxy-port", "0", "--proxy-ca", str(tmp_path / "proxy-ca"))
    proxy_url = re.search(r"^proxy: (\S+) ", server.stdout(), re.M)[1]
    ca = re.search(r"^trust the proxy's CA: (\S+)$", server.stdout(), re.M)[1]
    assert Path(ca) == (tmp_path / "proxy-ca" / "ca.pem").resolve()
    proxies = {"https": proxy_url, "http": proxy_url}
    url = "https://api.liveperson.net/api/account/12345678/service/idp/baseURI.json"
    answer = requests.get(url, params={"version": "1.0"}, proxies=proxies, verify=ca, timeout=10)
    assert answer.json() == {"service": "idp", "account": "12345678", "baseURI": "api.liveperson.net"}
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get("https://example.com/", proxies=proxies, verify=ca, timeout=10)


# --- replay ----------------------------------------------------------------------------------------

TUTORIAL = Path(__file__).resolve().parents[1] / "scenarios" / "liveperson_unauthenticated_messaging.yaml"
FAILING_SCENARIO = """
name: failing on purpose
vars: {account: "${random_digits(8)}"}
seed: {liveperson: {accounts: [{id: "${account}"}]}}
steps:
  - name: expects a teapot
    request: {method: GET, path: "/api/account/${account}/service/idp/baseURI.json"}
    expect: {status: 418}
  - name: never reached
    clock: {advance: 1m}
"""


def test_replay_in_process_reports_each_step_and_exits_0(tmp_path: Path) -> None:
    done = run_command("replay", str(TUTORIAL), "--junit", str(tmp_path / "report.xml"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  ok   steps[5] the expired external JWT is refused" in done.stdout
    assert done.stdout.strip().endswith("1 passed, 0 failed")
    suite = ElementTree.parse(tmp_path / "report.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("9", "0")


def test_replay_of_a_failing_scenario_exits_1_and_says_what_differed(tmp_path: Path) -> None:
    failing = tmp_path / "failing.yaml"
    failing.write_text(FAILING_SCENARIO)
    done = run_command("replay", str(TUTORIAL), str(failing), "--junit", str(tmp_path / "report.xml"), cwd=tmp_path)
    assert done.returncode == 1
    assert "FAIL steps[0] expects a teapot" in done.stdout and "status: expected 418, got 200" in done.stdout
    assert "never reached" not in done.stdout
    assert done.stdout.strip().endswith("1 passed, 1 failed")
    failures = ElementTree.parse(tmp_path / "report.xml").getroot().findall("testsuite/testcase/failure")
    assert [f.get("message") for f in failures] == ["status: expected 418, got 200"]


def test_replay_of_an_invalid_file_exits_2_naming_the_step_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsteps:\n  - clock: {advance: 1m}\n  - request: {path: /x, method: [GET]}\n")
    done = run_command("replay", str(broken), cwd=tmp_path)
    assert done.returncode == 2
    assert "broken.yaml: steps[1].request.method" in done.stderr


def test_replay_against_a_server_in_another_process(serve: StartServer, tmp_path: Path) -> None:
    server = serve()  # holds the demo seed: the scenario's fresh ids do not collide with it
    done = run_command("replay", str(TUTORIAL), "--target", server.base_url, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert EmulatorClient(server.base_url).in_namespace("*").export_state()["namespaces"].keys() <= {"default"}


def test_replay_sends_the_control_token_of_a_guarded_server(serve: StartServer, tmp_path: Path) -> None:
    server = serve("--control-token", "s3cret-token")
    refused = run_command("replay", str(TUTORIAL), "--target", server.base_url, cwd=tmp_path)
    assert refused.returncode == 1 and "401" in refused.stdout, refused.stdout + refused.stderr
    by_flag = run_command("replay", str(TUTORIAL), "--target", server.base_url, "--token", "s3cret-token", cwd=tmp_path)
    assert by_flag.returncode == 0, by_flag.stdout + by_flag.stderr
    by_env = subprocess.run(
        [*MODULE, "replay", str(TUTORIAL), "--target", server.base_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        env=without_emulator_variables({"EMULATOR_CONTROL_TOKEN": "s3cret-token"}),
    )
    assert by_env.returncode == 0, by_env.stdout + by_env.stderr


def test_plain_serve_upgrades_the_consumer_socket_and_stops_cleanly_with_it_open(serve: StartServer) -> None:
    from simple_websocket import Client

    server = serve()
    base_url = server.base_url
    lp_jwt = authenticate(
        base_url, DEMO_ACCOUNT, DEMO_CONNECTOR, authorize(base_url, DEMO_ACCOUNT).json()["token"]
    ).json()["token"]
    url = base_url.replace("http://", "ws://") + f"/ws_api/account/{DEMO_ACCOUNT}/messaging/consumer?v=3"
    ws = Client.connect(url, headers={"Authorization": f"jwt {lp_jwt}"})
    try:
        ws.send(json.dumps({"kind": "req", "id": "c1", "type": "GetClock", "body": {}}))
        answer = json.loads(ws.receive(timeout=10))
        assert (answer["reqId"], answer["code"], answer["type"]) == ("c1", 200, "GetClockResponse")
        assert server.stop() == clean_exit()
    finally:
        ws.thread.join(10)  # the server's stop ends the socket
    assert not ws.connected
