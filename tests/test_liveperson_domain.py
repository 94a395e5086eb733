"""LivePerson Domain API (CSDS) and connector configuration (reference sections 1, 2 and 8)."""

import json

import pytest

from emulator.app import create_app
from emulator.client import AppTransport
from emulator.config import EmulatorConfig
from emulator.providers.liveperson.routes import SERVICES
from emulator.pytest_plugin import emulator_namespace

LP_ERROR_KEYS = {"time", "message", "internalCode", "responseStatus"}


def assert_lp_error(reply, status, internal_code, response_status):
    assert reply.status == status
    error = reply.json()["error"]
    assert set(error) == LP_ERROR_KEYS
    assert (error["internalCode"], error["responseStatus"]) == (internal_code, response_status)


@pytest.mark.parametrize("suffix", ["baseURI.json", "baseURI"])
def test_one_service_is_a_single_object_naming_the_emulator(emulator, lp_account, suffix):
    reply = emulator.get(f"/api/account/{lp_account.id}/service/idp/{suffix}", params={"version": "1.0"})
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"service": "idp", "account": lp_account.id, "baseURI": "localhost"}


def test_legacy_csdr_form(emulator, lp_account):
    reply = emulator.get(f"/csdr/account/{lp_account.id}/service/agentVep/baseURI.json", params={"version": "1.0"})
    assert reply.json() == {"service": "agentVep", "account": lp_account.id, "baseURI": "localhost"}


def test_legacy_jsonp_form(emulator, lp_account):
    reply = emulator.get(
        f"/csdr/account/{lp_account.id}/service/idp/baseURI.lpCsds", params={"version": "1.0", "cb": "domainCallback"}
    )
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/javascript")
    assert reply.text == 'domainCallback({"ResultSet": {"lpData": [{"lpServer": "localhost"}]}});'


def test_jsonp_refuses_a_callback_that_is_not_a_name(emulator, lp_account):
    reply = emulator.get(f"/csdr/account/{lp_account.id}/service/idp/baseURI.lpCsds", params={"cb": "alert(1)//"})
    assert_lp_error(reply, 400, 400, "BAD_REQUEST")


@pytest.mark.parametrize("suffix", ["baseURI.json", "baseURI"])
def test_all_services_list_every_service_on_the_emulator(emulator, lp_account, suffix):
    reply = emulator.get(f"/api/account/{lp_account.id}/service/{suffix}", params={"version": "1.0"})
    entries = reply.json()["baseURIs"]
    assert [e["service"] for e in entries] == list(SERVICES)
    assert {"agentVep", "idp", "asyncMessagingEnt", "sentinel", "facadeMsg"} <= set(SERVICES)
    assert all(e == {"service": e["service"], "account": lp_account.id, "baseURI": "localhost"} for e in entries)


def test_base_uri_is_the_request_host_with_port(emulator, lp_account):
    reply = emulator.get(f"/api/account/{lp_account.id}/service/idp/baseURI.json", headers={"Host": "127.0.0.1:8443"})
    assert reply.json()["baseURI"] == "127.0.0.1:8443"


def test_a_configured_public_host_wins(lp_account_on_public_host):
    handle, account_id = lp_account_on_public_host
    reply = handle.get(f"/api/account/{account_id}/service/idp/baseURI.json")
    assert reply.json()["baseURI"] == "emulator.example:9000"


@pytest.fixture
def lp_account_on_public_host():
    app = create_app(EmulatorConfig(public_host="emulator.example:9000"))
    with emulator_namespace(AppTransport(app)) as handle:
        handle.control.seed({"liveperson": {"accounts": [{"id": "555"}]}})
        yield handle, "555"


def test_unknown_account_is_401_invalid_site(emulator):
    reply = emulator.get("/api/account/99999999999/service/idp/baseURI.json")
    assert_lp_error(reply, 401, 10, "UNAUTHORIZED")
    assert reply.json()["error"]["message"] == "invalid site"


def test_unknown_service_is_404_and_names_are_case_sensitive(emulator, lp_account):
    assert_lp_error(emulator.get(f"/api/account/{lp_account.id}/service/AgentVep/baseURI.json"), 404, 404, "NOT_FOUND")


def test_all_connectors_lists_the_unauthenticated_connector_for_the_tutorial_jq_filter(emulator, lp_account):
    reply = emulator.get(f"/api/account/{lp_account.id}/configuration/le-connectors/all-connectors")
    assert reply.status == 200
    connectors = reply.json()
    assert isinstance(connectors, list) and len(connectors) == 1
    # the tutorial: .[] | {id: .id, jsMethodName: .configuration.jsMethodName}
    picked = [
        c["id"]
        for c in connectors
        if c["configuration"]["jsMethodName"] == "lpTag.taglets.unAuthMessaging.lpUnauthFunction"
    ]
    assert picked == [int(lp_account.unauth_connector_id)]


def test_authenticated_connectors_carry_their_validation_settings(emulator):
    emulator.control.seed(
        {
            "liveperson": {
                "accounts": [
                    {
                        "id": "80000001",
                        "connectors": [
                            {"id": "2468", "type": "unauthenticated"},
                            {
                                "id": "1357",
                                "type": "authenticated",
                                "issuer": "https://brand.example",
                                "jwt_public_key": "MIIBIjAN",
                            },
                        ],
                    }
                ]
            }
        }
    )
    connectors = emulator.get("/api/account/80000001/configuration/le-connectors/all-connectors").json()
    authenticated = connectors[1]
    assert authenticated["id"] == 1357 and authenticated["type"] == 1
    assert authenticated["configuration"] == {
        "preferred": False,
        "jwtValidationType": "PUBLIC_JWT_KEY",
        "issuerDisplayName": None,
        "authorizationEndpoint": None,
        "issuer": "https://brand.example",
        "jwtPublicKey": "MIIBIjAN",
        "jsMethodName": "lpGetAuthenticationToken",
        "jsContext": "window",
        "tokenEndpoint": None,
        "clientId": None,
        "clientSecret": None,
        "jwksEndpoint": None,
    }


def test_all_connectors_of_an_unknown_account_is_401(emulator):
    assert_lp_error(
        emulator.get("/api/account/424242/configuration/le-connectors/all-connectors"), 401, 10, "UNAUTHORIZED"
    )


def test_wrong_method_and_unknown_path_answer_in_liveperson_shape(emulator, lp_account):
    assert_lp_error(
        emulator.post(f"/api/account/{lp_account.id}/service/idp/baseURI.json"), 405, 405, "METHOD_NOT_ALLOWED"
    )
    assert_lp_error(emulator.get(f"/api/account/{lp_account.id}/no/such/thing"), 404, 404, "NOT_FOUND")


def test_domain_answers_are_json(emulator, lp_account):
    reply = emulator.get(f"/api/account/{lp_account.id}/service/baseURI.json")
    assert json.loads(reply.text)["baseURIs"]
