"""Interception: an unmodified `requests` client calling the real provider hostnames reaches the emulator."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import urllib.request

import aiohttp
import httpx
import pytest
import requests
import responses
import sunshine_conversations_client as sc
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool

from emulator.interception import NotIntercepted, intercept, is_provider_url
from emulator.web import NAMESPACE_HEADER

ORIGINAL_SEND = HTTPAdapter.send


@pytest.fixture(params=["emulator", "emulator_server"])
def emulator_backend(request: pytest.FixtureRequest):
    """Every test here runs against the in-process emulator and against a real HTTP server."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every host name resolved and every address connected to by the test's own thread (webhook workers
    of earlier tests may still be at work in the background)."""
    seen: list = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    test_thread = threading.get_ident()

    def getaddrinfo(host, *args, **kwargs):
        if threading.get_ident() == test_thread:
            seen.append(("resolve", host))
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if threading.get_ident() == test_thread:
            seen.append(("connect", address))
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def _network_touched_provider(seen: list) -> list:
    """Lookups or connections other than to the loopback emulator server."""
    return [s for s in seen if (s[1] if s[0] == "resolve" else s[1][0]) not in ("127.0.0.1", "localhost")]


# --- LivePerson ------------------------------------------------------------------------------------------


def test_base_uri_on_the_real_host(emulator_intercept, lp_account) -> None:
    url = f"https://api.liveperson.net/api/account/{lp_account.id}/service/idp/baseURI.json"
    response = requests.get(url, params={"version": "1.0"})
    assert response.status_code == 200
    assert response.json() == {"service": "idp", "account": lp_account.id, "baseURI": "api.liveperson.net"}
    [entry] = emulator_intercept.control.journal(path="**/baseURI.json")
    assert entry["query"] == "version=1.0" and entry["method"] == "GET"


def test_anonymous_authorize_issues_a_token(emulator_intercept, lp_account) -> None:
    response = requests.post(f"https://va.idp.liveperson.net/api/account/{lp_account.id}/anonymous/authorize")
    assert response.status_code == 200
    token = response.json()["token"]
    exchanged = requests.post(
        f"https://va.idp.liveperson.net/api/account/{lp_account.id}/app/{lp_account.unauth_connector_id}/authenticate",
        params={"v": "3.0"},
        json={"id_token": token},
    )
    assert exchanged.status_code == 200 and exchanged.json()["token"].count(".") == 2


def test_base_uri_answer_names_an_intercepted_host(emulator_intercept, lp_account) -> None:
    """A client that follows the domain answer keeps talking to the emulator."""
    idp = requests.get(f"https://api.liveperson.net/api/account/{lp_account.id}/service/idp/baseURI.json").json()
    response = requests.post(f"https://{idp['baseURI']}/api/account/{lp_account.id}/anonymous/authorize")
    assert response.status_code == 200 and "token" in response.json()


def test_connectors_on_the_cdn_host(emulator_intercept, lp_account) -> None:
    url = f"https://accdn.lpsnmedia.net/api/account/{lp_account.id}/configuration/le-connectors/all-connectors"
    response = requests.get(url)
    assert response.status_code == 200
    assert [str(c["id"]) for c in response.json()] == [lp_account.unauth_connector_id]
    assert response.headers["Content-Type"].startswith("application/json")


# --- Mindbehind ------------------------------------------------------------------------------------------


def test_mindbehind_token_with_headers_and_body(emulator_intercept, mindbehind_channel) -> None:
    response = requests.post(
        "https://app.mindbehind.com/external/v1/incoming/mbWebChat/token",
        json={"clientID": "+905551112233", "channelID": mindbehind_channel.channel_id},
        headers={"apiToken": mindbehind_channel.management_token},
    )
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["token"]
    refused = requests.post(
        "https://app.mindbehind.com/external/v1/incoming/mbWebChat/token",
        json={"clientID": "+905551112233", "channelID": mindbehind_channel.channel_id},
        headers={"apiToken": "wrong"},
    )
    assert refused.status_code >= 400


# --- what is and is not intercepted ------------------------------------------------------------------------


def test_other_hosts_pass_through(emulator_intercept, local_site) -> None:
    response = requests.get(local_site + "/ping")
    assert response.status_code == 200 and response.text == "hello from /ping"


def test_unknown_provider_paths_answer_the_emulators_404_without_the_network(emulator_intercept, lookups) -> None:
    with intercept(emulator_intercept) as mock:  # nested: its call list shows what it answered
        lp = requests.get("https://va.idp.liveperson.net/api/account/12345678/no/such/route")
        smooch = requests.get("https://api.smooch.io/v2/apps/app1/no/such/route")
        zendesk = requests.post("https://acme.zendesk.com/sc/v2/apps/app1/messages", json={"x": 1})
    assert [r.status_code for r in (lp, smooch, zendesk)] == [404, 404, 404]
    assert all(isinstance(r.json(), dict) for r in (lp, smooch, zendesk))
    assert [c.response.status_code for c in mock.calls] == [404, 404, 404]
    assert [c.request.url.split("/")[2] for c in mock.calls] == [
        "va.idp.liveperson.net",
        "api.smooch.io",
        "acme.zendesk.com",
    ]
    assert _network_touched_provider(lookups) == []
    # a tenant-less call lands in the test's namespace through the namespace header
    [entry] = emulator_intercept.control.journal(path="/api/account/12345678/**")
    assert entry["status"] == 404 and entry["request_headers"][NAMESPACE_HEADER] == emulator_intercept.namespace


def test_a_method_the_emulator_is_not_asked_about_is_refused_not_sent(emulator_intercept, lookups) -> None:
    with pytest.raises(requests.ConnectionError, match="Connection refused by Responses"):
        requests.request("PROPFIND", "https://api.liveperson.net/api/account/1/x")
    assert _network_touched_provider(lookups) == []


def test_sessions_made_before_entering_are_covered(emulator_backend, lp_account, lookups) -> None:
    session = requests.Session()
    session.mount("https://", HTTPAdapter(max_retries=0))
    with intercept(emulator_backend):
        response = session.post(f"https://va.idp.liveperson.net/api/account/{lp_account.id}/anonymous/authorize")
    assert response.status_code == 200 and "token" in response.json()
    assert _network_touched_provider(lookups) == []


def test_faults_reach_the_caller(emulator_intercept, lp_account) -> None:
    emulator_intercept.control.add_fault("status", status=503, match={"path": "/api/account/**"}, times=1)
    url = f"https://va.idp.liveperson.net/api/account/{lp_account.id}/anonymous/authorize"
    assert requests.post(url).status_code == 503
    assert requests.post(url).status_code == 200


def test_decorator_form(emulator_backend, lp_account) -> None:
    @intercept(emulator_backend)
    def fetch() -> requests.Response:
        return requests.get(f"https://api.liveperson.net/api/account/{lp_account.id}/service/baseURI.json")

    assert fetch().status_code == 200
    assert fetch().json()["baseURIs"]  # re-entrant: the same decorator object twice
    assert HTTPAdapter.send is ORIGINAL_SEND


def test_off_after_the_context_exits(emulator_backend) -> None:
    patched = (HTTPConnectionPool, "urlopen"), (socket, "getaddrinfo"), (aiohttp.ClientSession, "_request")
    before = [getattr(owner, name) for owner, name in patched]
    interception = intercept(emulator_backend)
    with interception as mock:
        assert HTTPAdapter.send is not ORIGINAL_SEND
        assert mock.registered() and len(interception._active) == 1
        assert all(getattr(owner, name) is not was for (owner, name), was in zip(patched, before, strict=True))
    assert HTTPAdapter.send is ORIGINAL_SEND
    assert [getattr(owner, name) for owner, name in patched] == before
    assert interception._active == []


def test_base_url_target(emulator_server) -> None:
    """A base URL names a server: only the HTTP backend has one."""
    emulator_server.control.seed({"liveperson": {"accounts": [{"id": "66000001"}]}})
    with intercept(emulator_server.base_url, namespace=emulator_server.namespace):
        response = requests.get("https://api.liveperson.net/api/account/66000001/service/idp/baseURI.json")
    assert response.status_code == 200 and response.json()["account"] == "66000001"


def test_an_outer_responses_mock_still_answers_other_hosts(emulator_backend, lp_account) -> None:
    """Other hosts go to the `send` in place on entry: here an outer mock (which must let an emulator server through)."""
    with responses.RequestsMock() as outer:
        outer.get("https://crm.example.test/contacts", json={"contacts": []})
        if emulator_backend.base_url is not None:
            outer.add_passthru(emulator_backend.base_url)
        with intercept(emulator_backend):
            assert requests.get("https://crm.example.test/contacts").json() == {"contacts": []}
            url = f"https://api.liveperson.net/api/account/{lp_account.id}/service/idp/baseURI.json"
            assert requests.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://api.liveperson.net/x", True),
        ("http://va.idp.liveperson.net:443/x?y=1", True),
        ("https://LIVEPERSON.NET", True),
        ("wss://va.msg.liveperson.net/ws", True),
        ("https://accdn.lpsnmedia.net/api", True),
        ("https://api.smooch.io/v2/apps", True),
        ("https://api.eu-1.smooch.io/v2/apps", True),
        ("https://eu-1.smooch.io/v2/apps", False),
        ("https://app.mindbehind.com/external/v1", True),
        ("https://acme.zendesk.com/sc/v2/apps", True),
        ("https://acme.zendesk.com/sc", True),
        ("https://acme.zendesk.com/api/v2/tickets", False),
        ("https://acme.zendesk.com/scim", False),
        ("https://liveperson.net.evil.test/x", False),
        ("https://notliveperson.net/x", False),
        ("https://other.lpsnmedia.net/x", False),
        ("https://api.smooch.io.evil.test/x", False),
        ("http://127.0.0.1:8080/api/account/1/service/idp/baseURI.json", False),
        ("https://example.test/?next=https://api.liveperson.net/", False),
    ],
)
def test_provider_hosts(url: str, provider: bool) -> None:
    assert is_provider_url(url) is provider


# --- every Python HTTP client ------------------------------------------------------------------------------


def _authorize_url(account) -> str:
    return f"https://va.idp.liveperson.net/api/account/{account.id}/anonymous/authorize"


def _base_uri_url(account) -> str:
    return f"https://api.liveperson.net/api/account/{account.id}/service/idp/baseURI.json?version=1.0"


def test_urllib3_pool_manager(emulator_intercept, lp_account, lookups) -> None:
    http = urllib3.PoolManager()
    issued = http.request("POST", _authorize_url(lp_account))
    assert issued.status == 200 and issued.json()["token"].count(".") == 2
    base = http.request("GET", _base_uri_url(lp_account))
    assert base.json() == {"service": "idp", "account": lp_account.id, "baseURI": "api.liveperson.net"}
    assert base.headers["Content-Type"].startswith("application/json")
    streamed = http.request("GET", _base_uri_url(lp_account), preload_content=False)
    assert b"baseURI" in streamed.read()
    assert _network_touched_provider(lookups) == []


def test_the_official_sunshine_client_unchanged(emulator_intercept, sunshine_app, lookups) -> None:
    """sunshine-conversations-client on its own default host (api.smooch.io), through urllib3."""
    config = sc.Configuration(username=sunshine_app.key_id, password=sunshine_app.secret)
    assert config.host.startswith("https://api.smooch.io")
    users = sc.UsersApi(sc.ApiClient(config))
    created = users.create_user(sunshine_app.id, sc.UserCreateBody(external_id="intercepted-1"))
    assert created.user.external_id == "intercepted-1"
    assert users.get_user(sunshine_app.id, "intercepted-1").user.id == created.user.id
    with pytest.raises(sc.exceptions.NotFoundException):
        users.get_user(sunshine_app.id, "nobody")
    assert _network_touched_provider(lookups) == []


def test_httpx_sync(emulator_intercept, lp_account, mindbehind_channel, lookups) -> None:
    with httpx.Client() as client:
        issued = client.post(_authorize_url(lp_account))
        assert issued.status_code == 200 and "token" in issued.json()
        token = client.post(
            "https://app.mindbehind.com/external/v1/incoming/mbWebChat/token",
            json={"clientID": "+905551112233", "channelID": mindbehind_channel.channel_id},
            headers={"apiToken": mindbehind_channel.management_token},
        )
        assert token.status_code == 200 and token.json()["success"] is True
    assert httpx.get(_base_uri_url(lp_account)).json()["baseURI"] == "api.liveperson.net"
    assert _network_touched_provider(lookups) == []


def test_httpx_async(emulator_intercept, sunshine_app) -> None:
    async def calls() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(auth=(sunshine_app.key_id, sunshine_app.secret)) as client:
            url = f"https://api.eu-1.smooch.io/v2/apps/{sunshine_app.id}/users"
            created = await client.post(url, json={"externalId": "async-1"})
            return created, await client.get(f"{url}/async-1")

    created, fetched = asyncio.run(calls())
    assert created.status_code == 201 and fetched.status_code == 200
    assert fetched.json()["user"]["id"] == created.json()["user"]["id"]


def test_aiohttp(emulator_intercept, sunshine_app, lp_account, lookups) -> None:
    async def calls() -> list[tuple[int, object]]:
        auth = aiohttp.BasicAuth(sunshine_app.key_id, sunshine_app.secret)
        async with aiohttp.ClientSession() as session:
            users = f"https://acme.zendesk.com/sc/v2/apps/{sunshine_app.id}/users"
            answers = []
            async with session.post(users, json={"externalId": "aio-1"}, auth=auth) as created:
                answers.append((created.status, await created.json()))
            async with session.get(f"{users}/aio-1", auth=auth) as fetched:
                answers.append((fetched.status, await fetched.json()))
            async with session.get(f"{users}/aio-1") as refused:  # no credentials
                answers.append((refused.status, await refused.json()))
            async with session.post(_authorize_url(lp_account)) as issued:
                answers.append((issued.status, await issued.json()))
            return answers

    (created, user), (fetched, same), (refused, error), (issued, token) = asyncio.run(calls())
    assert (created, fetched, refused, issued) == (201, 200, 401, 200)
    assert same["user"]["id"] == user["user"]["id"] and "errors" in error and "token" in token
    assert _network_touched_provider(lookups) == []


def test_other_hosts_pass_through_every_client(emulator_intercept, local_site) -> None:
    async def aio() -> str:
        async with aiohttp.ClientSession() as session, session.get(local_site + "/aio") as response:
            return await response.text()

    assert urllib3.PoolManager().request("GET", local_site + "/urllib3").data == b"hello from /urllib3"
    assert httpx.get(local_site + "/httpx").text == "hello from /httpx"
    assert asyncio.run(aio()) == "hello from /aio"


def test_a_dropped_connection_raises_each_clients_own_error(emulator_intercept, lp_account) -> None:
    emulator_intercept.control.add_fault("reset", match={"path": "/api/account/**"}, times=3)

    async def aio() -> None:
        async with aiohttp.ClientSession() as session:
            await session.post(_authorize_url(lp_account))

    with pytest.raises(urllib3.exceptions.ProtocolError):
        urllib3.PoolManager().request("POST", _authorize_url(lp_account))
    with pytest.raises(httpx.ConnectError):
        httpx.post(_authorize_url(lp_account))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        asyncio.run(aio())
    assert httpx.post(_authorize_url(lp_account)).status_code == 200  # the three drops are spent


@pytest.mark.parametrize(
    "call",
    [
        lambda: urllib.request.urlopen("https://api.smooch.io/v2/apps/x/users", timeout=5),
        lambda: http.client.HTTPSConnection("va.idp.liveperson.net", timeout=5).request("GET", "/"),
        lambda: socket.create_connection(("app.mindbehind.com", 443), timeout=5),
        lambda: socket.getaddrinfo("acme.zendesk.com.", 443),
    ],
    ids=["urllib.request", "http.client", "socket", "zendesk-fqdn"],
)
def test_a_client_not_covered_fails_loudly_without_the_network(lookups, emulator_intercept, call) -> None:
    """`lookups` first: what it records is what passed the guard."""
    with pytest.raises(OSError, match="is a provider host and this client is not intercepted") as raised:
        call()
    assert isinstance(getattr(raised.value, "reason", raised.value), NotIntercepted)  # urllib wraps it in a URLError
    assert lookups == []


def test_an_encoded_slash_in_an_id_survives_every_client(emulator_intercept, sunshine_app) -> None:
    """`%2F` inside a path segment stays one segment (the emulator's raw-path handling), through each adapter."""
    auth = (sunshine_app.key_id, sunshine_app.secret)
    users = f"https://api.smooch.io/v2/apps/{sunshine_app.id}/users"
    assert httpx.post(users, json={"externalId": "a/b"}, auth=auth).status_code == 201
    headers = urllib3.make_headers(basic_auth=":".join(auth))
    assert urllib3.PoolManager().request("GET", users + "/a%2Fb", headers=headers).json()["user"]["externalId"] == "a/b"
    assert httpx.get(users + "/a%2Fb", auth=auth).json()["user"]["externalId"] == "a/b"
    assert requests.get(users + "/a%2Fb", auth=auth).json()["user"]["externalId"] == "a/b"
