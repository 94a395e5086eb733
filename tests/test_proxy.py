"""HTTPS proxy mode: unmodified clients (curl, Node) that honour HTTPS_PROXY and trust the proxy's CA reach
the emulator by the real provider host names, WebSockets included; other hosts are refused unless passed.
Nothing here reaches the internet: refused hosts are never connected to, passed ones are local servers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.serving.proxy import ProxyServer

ROOT = Path(__file__).resolve().parents[1]
NODE_CLIENT = ROOT / "tests" / "node" / "proxy_client.js"
CURL = shutil.which("curl")
NODE = shutil.which("node")


def curl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert CURL, "curl is required"
    clean = {
        k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
    }
    return subprocess.run(
        [CURL, "-sS", "--max-time", "20", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **(env or {})},
    )


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every address the proxy (any thread of this process) connects to."""
    seen: list = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


@pytest.fixture(scope="module")
def passing_proxy(emulator_app, tmp_path_factory) -> Iterator[ProxyServer]:
    """A proxy that relays 127.0.0.1 (and only that) besides the provider hosts."""
    with ProxyServer(emulator_app, tmp_path_factory.mktemp("passing-proxy-ca"), passed=["127.0.0.1"]) as proxy:
        yield proxy


def test_curl_reaches_the_emulator_by_the_real_host_names(emulator_proxy, lp_account) -> None:
    via = ("--proxy", emulator_proxy.url, "--cacert", str(emulator_proxy.ca_path))
    issued = curl(*via, "-X", "POST", f"https://va.idp.liveperson.net/api/account/{lp_account.id}/anonymous/authorize")
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["token"].count(".") == 2
    domain = curl(*via, f"https://api.liveperson.net/api/account/{lp_account.id}/service/idp/baseURI.json?version=1.0")
    assert json.loads(domain.stdout) == {"service": "idp", "account": lp_account.id, "baseURI": "api.liveperson.net"}
    [entry] = lp_account.handle.control.journal(path="**/anonymous/authorize")
    assert entry["status"] == 200 and entry["method"] == "POST"


def test_curl_honours_https_proxy_and_checks_the_certificate(emulator_proxy, sunshine_app) -> None:
    env = {"HTTPS_PROXY": emulator_proxy.url}
    url = f"https://api.smooch.io/v2/apps/{sunshine_app.id}/users"
    auth = ("-u", f"{sunshine_app.key_id}:{sunshine_app.secret}", "-H", "Content-Type: application/json")
    created = curl("--cacert", str(emulator_proxy.ca_path), *auth, "-d", '{"externalId": "proxied-1"}', url, env=env)
    assert json.loads(created.stdout)["user"]["externalId"] == "proxied-1", created.stderr
    untrusted = curl(*auth, url + "/proxied-1", env=env)  # the system CAs do not know the proxy's CA
    assert untrusted.returncode == 60, untrusted.stderr  # curl: peer certificate cannot be authenticated


def test_plain_http_to_a_provider_host_is_answered_too(emulator_proxy, sunshine_app) -> None:
    fetched = curl(
        "--proxy",
        emulator_proxy.url,
        "-u",
        f"{sunshine_app.key_id}:{sunshine_app.secret}",
        f"http://api.smooch.io/v2/apps/{sunshine_app.id}/users/nobody",
    )
    assert json.loads(fetched.stdout)["errors"][0]["code"] == "user_not_found", fetched.stdout


def test_other_hosts_are_refused_without_being_reached(emulator_proxy, connections) -> None:
    tunnel = curl("--proxy", emulator_proxy.url, "https://example.com/")
    assert tunnel.returncode == 56 and "403" in tunnel.stderr, tunnel.stderr
    plain = curl("--proxy", emulator_proxy.url, "-w", "%{http_code}", "-o", os.devnull, "http://example.com/")
    assert plain.stdout == "403"
    assert not [address for address in connections if address[0] != "127.0.0.1"]


def test_passed_hosts_are_relayed(passing_proxy, local_site, emulator_tls_server_url, emulator_tls_ca) -> None:
    plain = curl("--proxy", passing_proxy.url, local_site + "/plain")
    assert plain.stdout == "hello from /plain", plain.stderr
    tunnelled = curl(
        "--proxy", passing_proxy.url, "--cacert", emulator_tls_ca, emulator_tls_server_url + "/__emulator/health"
    )
    assert json.loads(tunnelled.stdout)["status"] == "ok", tunnelled.stderr


def test_a_dropped_connection_reaches_the_client_through_the_tunnel(emulator_proxy, lp_account) -> None:
    lp_account.handle.control.add_fault("reset", match={"path": "/api/account/**"}, times=1)
    via = ("--proxy", emulator_proxy.url, "--cacert", str(emulator_proxy.ca_path), "-X", "POST")
    url = f"https://va.idp.liveperson.net/api/account/{lp_account.id}/anonymous/authorize"
    dropped = curl(*via, url)
    assert dropped.returncode in (52, 56), (dropped.returncode, dropped.stderr)  # empty reply / connection reset
    assert curl(*via, url).returncode == 0


def test_a_node_client_over_https_and_a_websocket(emulator_proxy, lp_account) -> None:
    assert NODE, "node is required"
    env = {**os.environ, "HTTPS_PROXY": emulator_proxy.url, "NODE_EXTRA_CA_CERTS": str(emulator_proxy.ca_path)}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    done = subprocess.run(
        [NODE, str(NODE_CLIENT), lp_account.id, lp_account.unauth_connector_id],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == 200 and answer["baseURI"].endswith("liveperson.net")
    assert (answer["frame"]["type"], answer["frame"]["code"]) == ("GetClockResponse", 200)


def test_a_dropped_connection_reaches_a_plain_http_client(emulator_proxy, sunshine_app) -> None:
    sunshine_app.handle.control.add_fault("reset", match={"path": "/v2/**"}, times=1)
    via = ("--proxy", emulator_proxy.url, "-u", f"{sunshine_app.key_id}:{sunshine_app.secret}")
    url = f"http://api.smooch.io/v2/apps/{sunshine_app.id}/users/nobody"
    dropped = curl(*via, url)
    assert dropped.returncode in (52, 56), (dropped.returncode, dropped.stdout, dropped.stderr)
    assert json.loads(curl(*via, url).stdout)["errors"][0]["code"] == "user_not_found"
