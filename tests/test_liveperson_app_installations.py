"""The App Installation API (reference liveperson-outbound.md section 2): an admin's bearer creates, reads,
updates (If-Match, X-HTTP-Method-Override) and deletes installations; an installation made through it gets
AppJWTs and its webhooks; seed, export and import carry the same installations; refusals change nothing."""

from __future__ import annotations

import re
import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.pytest_plugin import WebhookReceiver, add_lp_user, issue_lp_app_jwt, lp_login
from emulator.pytest_plugin.liveperson_connector_app import LivePersonConnectorApp
from emulator.scenarios.record import record_scenario

PATH = "/api/account/{account}/configuration/app-install/installations"
WEBHOOK_TYPES = (
    "ms.MessagingEventNotification.ContentEvent",
    "ms.MessagingEventNotification.RichContentEvent",
    "ms.MessagingEventNotification.AcceptStatusEvent",
    "ms.MessagingEventNotification.ChatStateEvent",
    "cqm.ExConversationChangeNotification",
)


def manifest(endpoint: str = "https://your/webhooks/endpoint", **fields) -> dict:
    """The published example manifest (reference 1.1), with a fresh client_name."""
    webhooks = {
        kind: {"endpoint": endpoint, "max_retries": 1, "headers": [{"header_name": "X-Test", "header_value": "1"}]}
        for kind in WEBHOOK_TYPES
    }
    return {
        "client_name": f"connector-{secrets.token_hex(4)}",
        "enabled": True,
        "scope": "msg.consumer",
        "grant_types": ["client_credentials"],
        "capabilities": {"webhooks": {**webhooks, "retry": {"retention_time": 86400}}},
        **fields,
    }


@pytest.fixture
def admin(lp_account):
    user = add_lp_user(lp_account, username=f"admin-{secrets.token_hex(4)}", password="pw-admin-1", is_admin=True)
    return lp_login(lp_account, {"username": user["username"], "password": user["password"]})


class Api:
    def __init__(self, account, bearer: str) -> None:
        self.account = account
        self.bearer = bearer

    def call(self, method: str, tail: str = "", headers: dict | None = None, **kwargs):
        kwargs.setdefault("params", {"v": "1.0"})
        all_headers = {"Authorization": f"Bearer {self.bearer}", **(headers or {})}
        return self.account.handle.request(
            method, PATH.format(account=self.account.id) + tail, headers=all_headers, **kwargs
        )


@pytest.fixture
def api(lp_account, admin) -> Api:
    return Api(lp_account, admin.bearer)


def state_of(account) -> dict:
    return account.handle.control.export_state()["namespaces"][account.handle.namespace]["providers"]["liveperson"][
        "accounts"
    ][account.id]


def test_the_service_is_found_through_csds(lp_account) -> None:
    reply = lp_account.handle.get(f"/api/account/{lp_account.id}/service/accountConfigReadWrite/baseURI.json")
    assert reply.status == 200 and reply.json()["service"] == "accountConfigReadWrite"


def test_create_read_list_update_delete(api: Api, lp_account) -> None:
    sent = manifest(description="SMS gateway")
    created = api.call("POST", json=sent)
    assert created.status == 201, created.text
    app = created.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", app["client_id"]) and app["id"] == app["client_id"]
    assert re.fullmatch(r"[0-9a-v]{26}", app["client_secret"])
    assert app["client_id_issued_at"] == int(lp_account.handle.control.now().timestamp())
    assert (app["client_secret_expires_at"], app["deleted"], app["enabled"]) == (0, False, True)
    assert app["capabilities"] == sent["capabilities"] and app["description"] == "SMS gateway"
    revision = created.headers["ac-revision"]

    listed = api.call("GET")
    assert listed.status == 200 and listed.json() == [app] and listed.headers["ac-revision"] == revision
    read = api.call("GET", f"/{app['id']}")
    assert read.status == 200 and read.json() == app

    changed = {**app, "enabled": False, "client_secret": "ignored", "client_id": "ignored"}
    updated = api.call(
        "PUT", f"/{app['id']}", json=changed, headers={"If-Match": revision, "X-HTTP-Method-Override": "PUT"}
    )
    assert updated.status == 200, updated.text
    assert updated.json() == {**app, "enabled": False} and updated.headers["ac-revision"] != revision

    stale = api.call("DELETE", f"/{app['id']}", headers={"If-Match": revision})
    assert stale.status == 412 and "error" in stale.json()
    deleted = api.call("DELETE", f"/{app['id']}", headers={"If-Match": updated.headers["ac-revision"]})
    assert deleted.status == 204 and deleted.text == ""
    assert api.call("GET", f"/{app['id']}").status == 404 and api.call("GET").json() == []


def test_post_with_the_method_override_updates(api: Api) -> None:
    app = api.call("POST", json=manifest()).json()
    reply = api.call(
        "POST", f"/{app['id']}", json={**app, "description": "changed"}, headers={"X-HTTP-Method-Override": "PUT"}
    )
    assert reply.status == 200 and reply.json()["description"] == "changed"
    assert api.call("POST", f"/{app['id']}", json=app).status == 405


def test_an_installation_made_through_the_api_gets_app_jwts_and_webhooks(api: Api, lp_account) -> None:
    receiver = WebhookReceiver()
    try:
        app = api.call("POST", json=manifest(endpoint=receiver.url)).json()
        connector = LivePersonConnectorApp(
            lp_account,
            app["client_id"],
            app["client_secret"],
            receiver,
            issue_lp_app_jwt(lp_account, app["client_id"], app["client_secret"]),
        )
        consumer = connector.consumer()
        connector.say(consumer, connector.open_conversation(consumer), "through the API")
        assert connector.wait_for("ms.MessagingEventNotification.ContentEvent", count=1)
        assert all(d.headers.get("X-Test") == "1" for d in receiver.deliveries)  # the configured headers

        assert api.call("DELETE", f"/{app['id']}").status == 204
        refused = lp_account.handle.post(
            f"/api/account/{lp_account.id}/messaging/consumer/conversation/send",
            params={"v": "3"},
            json={"kind": "req", "id": "1", "type": "ms.PublishEvent", "body": {}},
            headers=consumer.headers(),
        )
        assert refused.status == 401 and refused.json()["body"]["errorCode"] == 40102  # its AppJWT died with it
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"Authorization": "Basic eDp5"}, 401)],
)
def test_refused_without_a_live_bearer(lp_account, headers: dict, status: int) -> None:
    reply = lp_account.handle.request("GET", PATH.format(account=lp_account.id), params={"v": "1.0"}, headers=headers)
    assert reply.status == status and set(reply.json()["error"]) == {
        "time",
        "message",
        "internalCode",
        "responseStatus",
    }


def test_a_user_who_is_not_an_admin_is_refused_403(lp_account, lp_agent_session) -> None:
    reply = Api(lp_account, lp_agent_session.bearer).call("POST", json=manifest())
    assert reply.status == 403 and state_of(lp_account)["apps"] == []


def test_an_expired_session_is_refused(api: Api, lp_account) -> None:
    lp_account.handle.control.advance(8 * 3600 + 1)
    assert api.call("GET").status == 401


def test_a_wrong_version_is_refused(api: Api) -> None:
    assert api.call("GET", params={"v": "9"}).status == 400


BAD_BODIES = [
    [],
    {"enabled": True},  # no client_name
    manifest(capabilities={"webhooks": {"ms.MessagingEventNotification.Nope": {"endpoint": "https://x/y"}}}),
    manifest(capabilities={"webhooks": {"cqm.ExConversationChangeNotification": {"endpoint": "ftp://x/y"}}}),
    manifest(
        capabilities={
            "webhooks": {"cqm.ExConversationChangeNotification": {"endpoint": "https://x/y", "max_retries": 6}}
        }
    ),
    manifest(capabilities={"webhooks": {"retry": {"retention_time": 1}}}),
    manifest(unknown_field=1),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_bad_manifest_is_400_and_changes_nothing(api: Api, lp_account, body) -> None:
    before = state_of(lp_account)
    reply = api.call("POST", json=body)
    assert reply.status == 400 and "error" in reply.json()
    assert state_of(lp_account) == before


def test_a_taken_client_name_is_refused(api: Api) -> None:
    sent = manifest()
    assert api.call("POST", json=sent).status == 201
    assert api.call("POST", json=sent).status == 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )
)
def test_any_json_body_is_answered_without_a_crash(api: Api, body) -> None:
    reply = api.call("POST", json={"client_name": f"n-{secrets.token_hex(4)}", "capabilities": body})
    assert reply.status in (201, 400), reply.text
    assert "X-Emulator-Unhandled" not in reply.headers


def test_seeded_installations_are_exported_and_imported(lp_account) -> None:
    control = lp_account.handle.control
    document = state_of(lp_account)
    document["apps"] = [
        {
            "client_id": "seeded-app",
            "client_secret": "cs",
            "client_name": "seeded",
            "capabilities": manifest()["capabilities"],
        }
    ]
    control.seed({"liveperson": {"accounts": [document]}})
    exported = control.export_state()
    app = exported["namespaces"][lp_account.handle.namespace]["providers"]["liveperson"]["accounts"][lp_account.id][
        "apps"
    ][0]
    assert app["capabilities"] == manifest()["capabilities"]
    control.import_state(exported)
    assert control.export_state() == exported


def test_record_carries_the_installations_into_its_seed(api: Api, lp_account) -> None:
    sent = manifest()
    assert api.call("POST", json=sent).status == 201
    recorded = record_scenario(lp_account.handle.control)
    [account] = recorded["seed"]["liveperson"]["accounts"]
    [app] = account["apps"]
    assert app["capabilities"] == sent["capabilities"] and app["client_name"] == sent["client_name"]
