"""The Unauthenticated Messaging tutorial, whole, over real HTTP, as a client discovers it."""

import jwt
import pytest
import requests


def discover(base_url: str, account_id: str, service: str) -> str:
    """Like the tutorial's clients: all-services CSDS, then a bare host:port for the service."""
    reply = requests.get(
        f"{base_url}/api/account/{account_id}/service/baseURI.json", params={"version": "1.0"}, timeout=10
    )
    assert reply.status_code == 200
    hosts = {entry["service"]: entry["baseURI"] for entry in reply.json()["baseURIs"]}
    return f"http://{hosts[service]}"


def sub_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["sub"]


@pytest.fixture
def emulator_backend(emulator_server):
    """Every provider fixture of this module goes over HTTP."""
    return emulator_server


@pytest.fixture
def idp(emulator_server, lp_account):
    return discover(emulator_server.base_url, lp_account.id, "idp")


def test_create_exchange_expire_refresh_exchange(emulator_server, lp_account, idp):
    account = lp_account.id
    connectors = requests.get(
        f"{idp}/api/account/{account}/configuration/le-connectors/all-connectors", timeout=10
    ).json()
    connector = next(
        c["id"]
        for c in connectors
        if c["configuration"]["jsMethodName"] == "lpTag.taglets.unAuthMessaging.lpUnauthFunction"
    )
    json_header = {"Content-Type": "application/json"}

    ext = requests.post(f"{idp}/api/account/{account}/anonymous/authorize", headers=json_header, timeout=10).json()[
        "token"
    ]
    exchange_url = f"{idp}/api/account/{account}/app/{connector}/authenticate?v=3.0"
    first = requests.post(exchange_url, json={"id_token": ext}, timeout=10)
    assert first.status_code == 200
    consumer = sub_of(first.json()["token"])

    emulator_server.control.advance("11m")
    refused = requests.post(exchange_url, json={"id_token": ext}, timeout=10)
    assert (refused.status_code, refused.json()) == (401, {"internalErrorCode": "9007"})

    refreshed = requests.post(f"{idp}/api/account/{account}/anonymous/authorize", json={"id_token": ext}, timeout=10)
    assert refreshed.status_code == 200
    accepted = requests.post(exchange_url, json={"id_token": refreshed.json()["token"]}, timeout=10)
    assert accepted.status_code == 200
    assert sub_of(accepted.json()["token"]) == consumer

    journal = emulator_server.control.journal(path="/api/account/*/app/*/authenticate")
    assert [entry["status"] for entry in journal] == [200, 401, 200]


def test_the_refresh_window_ends_after_730_hours(emulator_server, lp_account, idp):
    authorize_url = f"{idp}/api/account/{lp_account.id}/anonymous/authorize"
    emulator_server.control.freeze()
    ext = requests.post(authorize_url, timeout=10).json()["token"]
    emulator_server.control.advance("729h")
    ext = requests.post(authorize_url, json={"id_token": ext}, timeout=10).json()["token"]
    emulator_server.control.advance("1h")
    ended = requests.post(authorize_url, json={"id_token": ext}, timeout=10)
    assert (ended.status_code, ended.json()) == (401, {"internalErrorCode": "9007"})


def test_domain_api_names_the_server_itself(emulator_server, lp_account, idp):
    assert idp == emulator_server.base_url
