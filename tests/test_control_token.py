"""`EmulatorConfig.control_token`: the /__emulator control API refuses calls without it (401), in-process.

Health stays open for container healthchecks; provider routes and the Mindbehind hooks under
/__emulator/mindbehind/ (the widget's side of a test, provider traffic) never need it.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient, EmulatorError
from emulator.config import EmulatorConfig, parse_seed

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
    assert_unauthorized(http.post("/__emulator/seed", json={"liveperson": {"accounts": [{"id": "999"}]}}, headers=headers))
    assert_unauthorized(http.delete(JOURNAL, headers=headers))

    assert http.get("/__emulator/state", query_string={"namespace": "*"}, headers=GOOD).get_json() == before
    assert http.get("/__emulator/clock", headers=GOOD).get_json()["frozen"] == clock_before["frozen"]
    assert http.get("/__emulator/faults", headers=GOOD).get_json()["faults"] == []


@pytest.mark.parametrize("headers", [GOOD, BEARER, {"Authorization": f"bearer  {TOKEN}"}], ids=["header", "bearer", "bearer-lower"])
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


def test_mindbehind_hooks_under_the_control_prefix_need_no_control_token(http: FlaskClient) -> None:
    opened = http.post("/__emulator/mindbehind/webchat/sessions", json={"channelID": CHANNEL, "auth": "anonymous"})
    assert opened.status_code == 201, opened.get_data(as_text=True)
    assert opened.get_json()["success"] is True
    sent = http.post("/__emulator/mindbehind/webchat/otp", json={"channelID": CHANNEL, "phone": "+900000000"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    code = http.get("/__emulator/mindbehind/otp", query_string={"channelID": CHANNEL, "phone": "+900000000"})
    assert code.status_code == 200 and code.get_json()["code"]
    # a refusal there is Mindbehind's, never the control API's 401
    unknown = http.post("/__emulator/mindbehind/webchat/sessions", json={"channelID": "nope", "auth": "anonymous"})
    assert unknown.status_code != 401 and "error" not in unknown.get_json()


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
