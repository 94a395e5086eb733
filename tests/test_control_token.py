"""`EmulatorConfig.control_token`: the /__emulator control API refuses calls without it (401), in-process.

Health stays open for container healthchecks and provider routes never need it; the emulator-defined
Mindbehind hooks under /__emulator/mindbehind/ (no real provider exposes them) do. Wrong tokens are counted.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient, EmulatorError
from emulator.config import EmulatorConfig, parse_seed
from emulator.control.guesses import FREE_GUESSES, GuessCounter

TOKEN = "s3cret-control-token"
ACCOUNT = "12345678"
CHANNEL = "web-1"
SEED = parse_seed(
    {
        "liveperson": {"accounts": [{"id": ACCOUNT, "connectors": [{"id": "2468", "type": "unauthenticated"}]}]},
        "mindbehind": {"companies": [{"id": "acme", "channels": [{"id": CHANNEL, "management_token": "mgmt-1"}]}]},
    }
)
GOOD = {"X-Emulator-Token": TOKEN}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
JOURNAL = "/__emulator/journal"


@pytest.fixture
def app() -> Any:
    return create_app(EmulatorConfig(seed=SEED, control_token=TOKEN))


@pytest.fixture
def http(app: Any) -> FlaskClient:
    return app.test_client()


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized"
    assert "X-Emulator-Token" in body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


WRONG = [
    {},
    {"X-Emulator-Token": "wrong"},
    {"X-Emulator-Token": ""},
    {"X-Emulator-Token": TOKEN + "x"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": TOKEN},  # not a bearer credential
    {"Authorization": f"Basic {TOKEN}"},
    {"X-Emulator-Token": "wrong", "Authorization": f"Bearer {TOKEN}"},  # the header, when given, decides
]
WRONG_IDS = ["none", "wrong", "empty", "longer", "wrong-bearer", "no-scheme", "basic", "wrong-header-good-bearer"]


@pytest.mark.parametrize("headers", WRONG, ids=WRONG_IDS)
def test_control_calls_without_the_token_are_refused_and_change_nothing(http: FlaskClient, headers: dict) -> None:
    before = http.get("/__emulator/state", query_string={"namespace": "*"}, headers=GOOD).get_json()
    clock_before = http.get("/__emulator/clock", headers=GOOD).get_json()

    assert_unauthorized(http.get("/__emulator/state", headers=headers))
    assert_unauthorized(http.post("/__emulator/reset", query_string={"namespace": "*"}, headers=headers))
    assert_unauthorized(http.post("/__emulator/clock", json={"advance": "1h", "freeze": True}, headers=headers))
    assert_unauthorized(http.post("/__emulator/faults", json={"kind": "status", "status": 503}, headers=headers))
    assert_unauthorized(
        http.post("/__emulator/seed", json={"liveperson": {"accounts": [{"id": "999"}]}}, headers=headers)
    )
    assert_unauthorized(http.delete(JOURNAL, headers=headers))

    assert http.get("/__emulator/state", query_string={"namespace": "*"}, headers=GOOD).get_json() == before
    assert http.get("/__emulator/clock", headers=GOOD).get_json()["frozen"] == clock_before["frozen"]
    assert http.get("/__emulator/faults", headers=GOOD).get_json()["faults"] == []


@pytest.mark.parametrize(
    "headers", [GOOD, BEARER, {"Authorization": f"bearer  {TOKEN}"}], ids=["header", "bearer", "bearer-lower"]
)
def test_control_calls_with_the_token_work(http: FlaskClient, headers: dict) -> None:
    frozen = http.post("/__emulator/clock", json={"set": "2026-01-01T00:00:00Z", "freeze": True}, headers=headers)
    assert frozen.status_code == 200, frozen.get_data(as_text=True)
    assert frozen.get_json()["frozen"] is True
    assert http.post("/__emulator/reset", headers=headers).status_code == 200
    assert http.get(JOURNAL, headers=headers).get_json()["entries"] == []


def test_health_stays_open(http: FlaskClient) -> None:
    answer = http.get("/__emulator/health")
    assert (answer.status_code, answer.get_json()["status"]) == (200, "ok")


def test_provider_routes_need_no_control_token(http: FlaskClient) -> None:
    answer = http.get(f"/api/account/{ACCOUNT}/service/idp/baseURI.json", query_string={"version": "1.0"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    authorized = http.post(f"/api/account/{ACCOUNT}/anonymous/authorize", json={})
    assert authorized.status_code == 200 and authorized.get_json()["token"]
    # ... and they are journaled as usual
    paths = [entry["path"] for entry in http.get(JOURNAL, headers=GOOD).get_json()["entries"]]
    assert f"/api/account/{ACCOUNT}/anonymous/authorize" in paths


HOOK_CALLS = [
    ("POST", "/__emulator/mindbehind/webchat/sessions", {"json": {"channelID": CHANNEL, "auth": "anonymous"}}),
    ("POST", "/__emulator/mindbehind/webchat/otp", {"json": {"channelID": CHANNEL, "phone": "+900000000"}}),
    ("GET", "/__emulator/mindbehind/otp", {"query_string": {"channelID": CHANNEL, "phone": "+900000000"}}),
    ("POST", "/__emulator/mindbehind/bot-reply", {"json": {"channelID": CHANNEL, "clientID": "c", "text": "hi"}}),
    ("POST", "/__emulator/mindbehind/human-action", {"json": {"channelID": CHANNEL, "clientID": "c", "reason": "x"}}),
    ("POST", f"/__emulator/mindbehind/channels/{CHANNEL}/rotate-token", {}),
    ("GET", "/__emulator/no-such-route", {}),
]


@pytest.mark.parametrize("method, path, kwargs", HOOK_CALLS, ids=[call[1] for call in HOOK_CALLS])
def test_emulator_defined_hooks_need_the_token_too(http: FlaskClient, method: str, path: str, kwargs: dict) -> None:
    before = http.get("/__emulator/state", query_string={"namespace": "*"}, headers=GOOD).get_json()
    assert_unauthorized(http.open(path, method=method, **kwargs))
    assert_unauthorized(http.open(path, method=method, headers={"X-Emulator-Token": "wrong"}, **kwargs))
    assert http.get("/__emulator/state", query_string={"namespace": "*"}, headers=GOOD).get_json() == before


def test_the_mindbehind_hooks_work_with_the_token(http: FlaskClient) -> None:
    opened = http.post(
        "/__emulator/mindbehind/webchat/sessions", json={"channelID": CHANNEL, "auth": "anonymous"}, headers=GOOD
    )
    assert opened.status_code == 201, opened.get_data(as_text=True)
    rotated = http.post(f"/__emulator/mindbehind/channels/{CHANNEL}/rotate-token", headers=GOOD)
    assert rotated.status_code == 200, rotated.get_data(as_text=True)
    # a refusal there is Mindbehind's, never the control API's 401
    unknown = http.post(
        "/__emulator/mindbehind/webchat/sessions", json={"channelID": "nope", "auth": "anonymous"}, headers=GOOD
    )
    assert unknown.status_code != 401 and "error" not in unknown.get_json()


def test_wrong_guesses_past_the_allowance_make_the_address_wait(http: FlaskClient) -> None:
    for _ in range(FREE_GUESSES + 1):
        assert_unauthorized(http.get("/__emulator/clock", headers={"X-Emulator-Token": "guess"}))
    for headers in ({"X-Emulator-Token": "guess"}, GOOD):  # even the right token waits: guessing gains nothing
        waiting = http.get("/__emulator/clock", headers=headers)
        assert waiting.status_code == 429 and waiting.get_json()["error"]["code"] == "too_many_attempts"
        assert waiting.headers["Retry-After"] == "1"
    elsewhere = http.get("/__emulator/clock", headers=GOOD, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert elsewhere.status_code == 200, "another address waited too"
    assert http.get("/__emulator/health").status_code == 200


def test_calls_without_a_token_are_no_guesses(http: FlaskClient) -> None:
    for _ in range(FREE_GUESSES * 3):
        assert_unauthorized(http.get("/__emulator/clock"))
    assert http.get("/__emulator/clock", headers=GOOD).status_code == 200


def test_the_wait_doubles_on_the_wall_clock_and_a_right_token_ends_it() -> None:
    now = [1000.0]
    counter = GuessCounter(now=lambda: now[0])
    for _ in range(FREE_GUESSES):
        counter.failed("a")
    assert counter.wait_left("a") == 0
    waits = []
    for _ in range(8):
        counter.failed("a")
        waits.append(counter.wait_left("a"))
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    now[0] += 60
    assert counter.wait_left("a") == 0 and counter.wait_left("b") == 0
    counter.succeeded("a")
    counter.failed("a")
    assert counter.wait_left("a") == 0  # the count started again


def test_without_a_configured_token_nothing_is_required() -> None:
    http = create_app(EmulatorConfig(seed=SEED)).test_client()
    assert http.get("/__emulator/state").status_code == 200
    assert http.get("/__emulator/state", headers={"X-Emulator-Token": "anything"}).status_code == 200


def test_client_sends_its_token(app: Any) -> None:
    client = EmulatorClient(transport=AppTransport(app), namespace="tokened", token=TOKEN)
    client.seed({"liveperson": {"accounts": [{"id": "55556666"}]}})
    client.advance("1h")
    assert client.in_namespace("*").export_state()["namespaces"].keys() >= {"default", "tokened"}
    client.reset()

    with pytest.raises(EmulatorError) as refused:
        EmulatorClient(transport=AppTransport(app)).reset_all()
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    with pytest.raises(EmulatorError) as wrong:
        EmulatorClient(transport=AppTransport(app), token="wrong").clock()
    assert wrong.value.status == 401
    assert EmulatorClient(transport=AppTransport(app)).health()["status"] == "ok"
    assert "default" in client.in_namespace("*").export_state()["namespaces"]
