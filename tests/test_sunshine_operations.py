"""Sunshine Conversations v2 operations past users, conversations and messages: UpdateIntegration, attachments
(multipart upload, the media URL the emulator serves, removal, deletion with what they belong to), download,
conversionEvents, SyncUser, and the OAuth endpoints of marketplace integrations (a client seeded per test)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from sunshine_event_schemas import check_event

from emulator.pytest_plugin import EmulatorHandle, SunshineApp
from emulator.pytest_plugin.sunshine_webhooks import SunshineWebhookEvents

APPLE_REF = {
    "url": "https://p61-content.icloud.com/M58C",
    "bid": "com.apple.messages",
    "key": "00c0",
    "signature": "81a6",
    "owner": "M58C.C01",
}
REDIRECT = "https://bot.example.com/oauth/callback"


def answer(reply: Any, status: int = 200) -> Any:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    return reply.json()


def error(reply: Any) -> tuple[int, str, str]:
    [only] = reply.json()["errors"]
    return reply.status, only["code"], only["title"]


# --- UpdateIntegration ----------------------------------------------------------------------------------


def test_update_integration_sets_and_unsets_the_display_name(
    sunshine_app: SunshineApp, emulator_webhook_receiver: Any
) -> None:
    created = answer(
        sunshine_app.request(
            "POST",
            "integrations",
            json={
                "type": "custom",
                "displayName": "Bot",
                "webhooks": [{"target": emulator_webhook_receiver.url, "triggers": ["*"]}],
            },
        ),
        201,
    )["integration"]
    path = f"integrations/{created['id']}"
    renamed = answer(sunshine_app.request("PATCH", path, json={"displayName": "Support bot"}))["integration"]
    assert renamed == {**created, "displayName": "Support bot"}
    assert answer(sunshine_app.request("PATCH", path, json={"displayName": None}))["integration"]["displayName"] is None
    assert answer(sunshine_app.request("GET", path))["integration"]["displayName"] is None
    assert error(sunshine_app.request("PATCH", path, json={"displayName": "x" * 101}))[:2] == (400, "bad_request")
    assert error(sunshine_app.request("PATCH", f"integrations/{'0' * 24}", json={"displayName": "x"})) == (
        404,
        "integration_not_found",
        "Integration not found",
    )


# --- attachments -----------------------------------------------------------------------------------------


def multipart(
    data: bytes, filename: str = "receipt.pdf", content_type: str = "application/pdf", name: str = "source"
) -> tuple[bytes, dict]:
    boundary = secrets.token_hex(8)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(app: SunshineApp, data: bytes, query: str = "access=public", **part: str) -> Any:
    body, headers = multipart(data, **part)
    return app.request("POST", f"attachments?{query}", data=body, headers=headers)


def media_path(url: str) -> str:
    return urlsplit(url).path


def test_an_uploaded_attachment_is_served_at_its_media_url_until_removed(
    emulator: EmulatorHandle, sunshine_app: SunshineApp
) -> None:
    pdf = b"%PDF-1.7\n" + secrets.token_bytes(256)
    attachment = answer(upload(sunshine_app, pdf), 201)["attachment"]
    assert set(attachment) == {"mediaUrl", "mediaType"} and attachment["mediaType"] == "application/pdf"
    path = media_path(attachment["mediaUrl"])
    assert path.startswith("/sc/attachments/v2/") and path.endswith("/receipt.pdf")  # the spec example's form
    served = emulator.get(path)
    assert (served.status, served.headers["Content-Type"], served.body) == (200, "application/pdf", pdf)

    assert answer(sunshine_app.request("POST", "attachments/remove", json={"mediaUrl": attachment["mediaUrl"]})) == {}
    assert emulator.get(path).status == 404
    assert error(sunshine_app.request("POST", "attachments/remove", json={"mediaUrl": attachment["mediaUrl"]})) == (
        404,
        "not_found",
        "Attachment not found",
    )


def test_the_media_type_is_guessed_from_the_name_when_the_part_has_none(sunshine_app: SunshineApp) -> None:
    assert (
        answer(upload(sunshine_app, b"GIF89a", filename="a.gif", content_type="application/octet-stream"), 201)[
            "attachment"
        ]["mediaType"]
        == "image/gif"
    )


@pytest.mark.parametrize(
    "query, part",
    [
        ("", {}),  # access is required [C]
        ("access=private", {}),  # public only [C]
        ("access=public&for=conversation", {}),  # message only [C]
        ("access=public", {"name": "file"}),  # the part is `source` [C]
    ],
)
def test_refused_uploads(sunshine_app: SunshineApp, query: str, part: dict) -> None:
    reply = upload(sunshine_app, b"data", query, **part)
    assert error(reply)[:2] == (400, "bad_request")


def test_an_upload_must_be_multipart(sunshine_app: SunshineApp) -> None:
    assert error(sunshine_app.request("POST", "attachments?access=public", json={"source": "x"}))[:2] == (
        400,
        "bad_request",
    )


def test_an_upload_for_an_unknown_conversation(sunshine_app: SunshineApp) -> None:
    reply = upload(sunshine_app, b"data", f"access=public&for=message&conversationId={'0' * 24}")
    assert error(reply) == (404, "conversation_not_found", "Conversation not found")


def test_an_upload_past_the_apps_limit(emulator: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    assert (
        emulator.post(
            "/__emulator/tokens/ttl", json={"provider": "sunshine", "app": sunshine_app.id, "attachment_bytes": 10}
        ).status
        == 200
    )
    assert upload(sunshine_app, b"x" * 10).status == 201
    reply = upload(sunshine_app, b"x" * 11)
    assert error(reply)[:2] == (413, "payload_too_large")


def test_uploads_may_be_50_mb_and_json_bodies_100_kb(emulator_app: Any, sunshine_app: SunshineApp) -> None:
    """[C] the published limits: the hook that refuses a body unread takes 50 MB on the upload routes only."""
    from emulator.providers.sunshine.provider import SPEC, UPLOAD_LIMIT
    from emulator.web import body_limit

    with emulator_app.app_context():
        from emulator.web import runtime

        limits = {
            path: body_limit(runtime(), SPEC, path)
            for path in (
                "/v2/apps/a/attachments",
                "/sdk/v2/apps/a/conversations/c/files",
                "/v2/apps/a/attachments/remove",
                "/v2/apps/a/users",
            )
        }
    assert limits == {
        "/v2/apps/a/attachments": UPLOAD_LIMIT,
        "/sdk/v2/apps/a/conversations/c/files": UPLOAD_LIMIT,
        "/v2/apps/a/attachments/remove": 100 * 1024,
        "/v2/apps/a/users": 100 * 1024,
    }
    assert UPLOAD_LIMIT == 50 * 1024 * 1024
    reply = sunshine_app.request("POST", "attachments/remove", json={"mediaUrl": "x" * (100 * 1024)})
    assert error(reply)[:2] == (413, "payload_too_large")


def test_unsupported_media_urls_are_refused(sunshine_app: SunshineApp) -> None:
    url = "https://badhost.com/image.png"
    assert error(sunshine_app.request("POST", "attachments/remove", json={"mediaUrl": url})) == (
        400,
        "bad_request",
        f"Unsupported media URL for attachment deletion: {url}",
    )
    assert error(sunshine_app.request("POST", "attachments/remove", json={}))[:2] == (400, "bad_request")


def test_message_attachments_go_with_their_conversation(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, sunshine_user: Any
) -> None:
    group = answer(
        sunshine_app.request(
            "POST",
            "conversations",
            json={"type": "sdkGroup", "participants": [{"userId": sunshine_user.id, "subscribeSDKClient": False}]},
        ),
        201,
    )
    conversation_id = group["conversation"]["id"]
    kept = answer(upload(sunshine_app, b"kept"), 201)["attachment"]
    linked = answer(
        upload(sunshine_app, b"linked", f"access=public&for=message&conversationId={conversation_id}"), 201
    )["attachment"]
    answer(sunshine_app.request("DELETE", f"conversations/{conversation_id}"))
    assert emulator.get(media_path(linked["mediaUrl"])).status == 404
    assert emulator.get(media_path(kept["mediaUrl"])).status == 200


def test_attachments_are_per_app(emulator: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    attachment = answer(upload(sunshine_app, b"mine"), 201)["attachment"]
    other_app, key = secrets.token_hex(12), {"id": f"app_{secrets.token_hex(8)}", "secret": secrets.token_urlsafe(18)}
    emulator.control.seed({"sunshine": {"apps": [{"id": other_app, "keys": [key]}]}})
    basic = base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()
    reply = emulator.post(
        f"/v2/apps/{other_app}/attachments/remove",
        json={"mediaUrl": attachment["mediaUrl"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert error(reply) == (404, "not_found", "Attachment not found")


# --- download, conversionEvents ----------------------------------------------------------------------


def test_download_an_apple_message_ref(sunshine_app: SunshineApp, sunshine_conversation: Any) -> None:
    path = f"conversations/{sunshine_conversation.id}/download"
    assert (
        answer(
            sunshine_app.request(
                "POST", path, json={"userId": sunshine_conversation.user.id, "apple": {"interactiveDataRef": APPLE_REF}}
            )
        )
        == {}
    )
    assert error(sunshine_app.request("POST", path, json={"userId": sunshine_conversation.user.id}))[:2] == (
        400,
        "bad_request",
    )  # apple only
    assert error(sunshine_app.request("POST", path, json={"apple": {"interactiveDataRef": APPLE_REF}}))[:2] == (
        400,
        "bad_request",
    )  # userId required
    assert error(
        sunshine_app.request("POST", path, json={"userId": "0" * 24, "apple": {"interactiveDataRef": APPLE_REF}})
    ) == (404, "user_not_found", "User not found")
    partial = {k: v for k, v in APPLE_REF.items() if k != "signature"}
    assert error(
        sunshine_app.request(
            "POST", path, json={"userId": sunshine_conversation.user.id, "apple": {"interactiveDataRef": partial}}
        )
    )[:2] == (400, "bad_request")


def test_conversion_events_are_counted(sunshine_app: SunshineApp, sunshine_conversation: Any) -> None:
    path = f"conversations/{sunshine_conversation.id}/conversionEvents"
    data = [{"event_name": "Purchase", "event_time": 1752161233, "action_source": "business_messaging"}] * 3
    result = answer(sunshine_app.request("POST", path, json={"instagram": {"payload": {"data": data}}}))[
        "conversionEvents"
    ]
    assert result["eventsReceived"] == 3 and isinstance(result["datasetId"], str) and result["datasetId"].isdigit()
    for wrong in (
        {},
        {"instagram": {"payload": {"data": data}}, "whatsapp": {"payload": {"data": data}}},
        {"messenger": {"payload": {}}},
    ):
        assert error(sunshine_app.request("POST", path, json=wrong))[:2] == (400, "bad_request")
    assert (
        error(
            sunshine_app.request(
                "POST", f"conversations/{'0' * 24}/conversionEvents", json={"whatsapp": {"payload": {"data": []}}}
            )
        )[0]
        == 404
    )


# --- SyncUser -------------------------------------------------------------------------------------------


def seed_zendesk_users(emulator: EmulatorHandle, app: SunshineApp, *users: dict) -> None:
    state = emulator.control.export_state()
    stored = state["namespaces"][emulator.namespace]["providers"]["sunshine"]["apps"][app.id]["users"]
    for user in users:
        stored[user["id"]] = {"id": user["id"], "externalId": user.get("externalId"), "zendeskId": user["zendeskId"]}
    emulator.control.import_state(state)


def test_sync_user(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    outgoing, surviving = secrets.token_hex(12), secrets.token_hex(12)
    seed_zendesk_users(
        emulator,
        sunshine_app,
        {"id": outgoing, "zendeskId": "111"},
        {"id": surviving, "zendeskId": "222", "externalId": "sue"},
    )
    synced = answer(sunshine_app.request("POST", "users/111/sync"))["user"]
    assert (synced["id"], synced["zendeskId"]) == (outgoing, "111")
    assert answer(sunshine_app.request("POST", "users/111/sync", json={}))["user"]["id"] == outgoing
    assert error(sunshine_app.request("POST", "users/999/sync")) == (404, "user_not_found", "User not found")
    # a Zendesk merge applied: the outgoing user merges into the one holding the surviving id
    merged = answer(sunshine_app.request("POST", "users/111/sync", json={"survivingZendeskId": "222"}))["user"]
    assert (merged["id"], merged["zendeskId"]) == (surviving, "222")
    assert sunshine_app.request("GET", f"users/{outgoing}").status == 404
    [merge] = sunshine_webhook_events.wait_for("user:merge")
    check_event(merge)
    assert (merge["payload"]["reason"], merge["payload"]["mergedUsers"]["discarded"]["id"]) == ("api", outgoing)


def test_sync_user_moves_to_a_free_zendesk_id(emulator: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    user_id = secrets.token_hex(12)
    seed_zendesk_users(emulator, sunshine_app, {"id": user_id, "zendeskId": "333"})
    assert (
        answer(sunshine_app.request("POST", "users/333/sync", json={"survivingZendeskId": "444"}))["user"]["zendeskId"]
        == "444"
    )
    assert error(sunshine_app.request("POST", "users/333/sync"))[0] == 404


# --- OAuth ----------------------------------------------------------------------------------------------


@pytest.fixture
def marketplace(emulator: EmulatorHandle, sunshine_app: SunshineApp) -> dict:
    """A seeded marketplace OAuth client whose emulated admin grants `sunshine_app`."""
    client = {
        "id": secrets.token_hex(12),
        "secret": secrets.token_urlsafe(18),
        "name": "Shoplifter",
        "redirectUris": [REDIRECT, "https://bot.example.com/other"],
        "appId": sunshine_app.id,
    }
    emulator.control.seed({"sunshine": {"oauth_clients": [client]}})
    return client


def authorize(emulator: EmulatorHandle, client: dict, prefix: str = "", **query: str) -> Any:
    params = {"response_type": "code", "client_id": client["id"], **query}
    return emulator.get(f"{prefix}/oauth/authorize", params=params)


def code_of(reply: Any) -> str:
    assert reply.status == 302, reply.text
    location = urlsplit(reply.headers["Location"])
    return parse_qs(location.query)["code"][0]


def token(emulator: EmulatorHandle, client: dict, code: str, **changes: str) -> Any:
    body = {
        "code": code,
        "grant_type": "authorization_code",
        "client_id": client["id"],
        "client_secret": client["secret"],
        **changes,
    }
    return emulator.post("/oauth/token", json=body)


def test_the_oauth_flow_gives_an_integration_scoped_token(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, marketplace: dict
) -> None:
    reply = authorize(emulator, marketplace, state="xyz")
    location = urlsplit(reply.headers["Location"])
    assert (reply.status, f"{location.scheme}://{location.netloc}{location.path}") == (302, REDIRECT)
    assert parse_qs(location.query)["state"] == ["xyz"] and reply.body.decode().startswith("Found. Redirecting to ")
    granted = answer(token(emulator, marketplace, parse_qs(location.query)["code"][0]))
    assert set(granted) == {"access_token", "token_type"} and granted["token_type"] == "Bearer"
    bearer = {"Authorization": f"Bearer {granted['access_token']}"}

    info = answer(emulator.get("/v2/tokenInfo", headers=bearer))
    assert info["app"]["id"] == sunshine_app.id
    assert answer(emulator.get("/sc/v2/tokenInfo", headers=bearer))["app"]["id"] == sunshine_app.id
    # integration scope: users and conversations, its own webhooks; not the app
    created = answer(
        emulator.post(f"/v2/apps/{sunshine_app.id}/users", json={"externalId": "oauth-made"}, headers=bearer), 201
    )
    assert created["user"]["externalId"] == "oauth-made"
    hook = {"target": "https://bot.example.com/hook", "triggers": ["conversation:message"]}
    answer(emulator.post(f"/v2/apps/{sunshine_app.id}/integrations/me/webhooks", json=hook, headers=bearer), 201)
    assert error(emulator.get(f"/v2/apps/{sunshine_app.id}", headers=bearer))[:2] == (403, "forbidden")
    [integration] = [
        i
        for i in answer(sunshine_app.request("GET", "integrations"))["integrations"]
        if i["displayName"] == "Shoplifter"
    ]
    assert [w["target"] for w in integration["webhooks"]] == [hook["target"]]

    # a second authorization reuses the integration
    again = answer(
        token(
            emulator,
            marketplace,
            code_of(authorize(emulator, marketplace, redirect_uri="https://bot.example.com/other")),
        )
    )
    assert (
        answer(emulator.get("/v2/tokenInfo", headers={"Authorization": f"Bearer {again['access_token']}"}))["app"]["id"]
        == sunshine_app.id
    )
    assert (
        len(
            [
                i
                for i in answer(sunshine_app.request("GET", "integrations"))["integrations"]
                if i["displayName"] == "Shoplifter"
            ]
        )
        == 1
    )

    # revoking: the integration and its webhooks go, and every token of it stops working
    assert answer(emulator.request("DELETE", "/oauth/authorization", headers=bearer)) == {}
    assert [
        i
        for i in answer(sunshine_app.request("GET", "integrations"))["integrations"]
        if i["displayName"] == "Shoplifter"
    ] == []
    for credentials in (bearer, {"Authorization": f"Bearer {again['access_token']}"}):
        assert emulator.get("/v2/tokenInfo", headers=credentials).status == 401


def test_a_code_is_spent_once_and_expires(emulator: EmulatorHandle, marketplace: dict, emulator_clock: Any) -> None:
    code = code_of(authorize(emulator, marketplace))
    answer(token(emulator, marketplace, code))
    assert error(token(emulator, marketplace, code))[:2] == (400, "bad_request")
    late = code_of(authorize(emulator, marketplace))
    emulator_clock.advance("601s")
    assert error(token(emulator, marketplace, late))[:2] == (400, "bad_request")


def test_refused_exchanges(emulator: EmulatorHandle, marketplace: dict) -> None:
    code = code_of(authorize(emulator, marketplace))
    assert error(token(emulator, marketplace, code, client_secret="wrong"))[:2] == (401, "invalid_auth")
    assert error(token(emulator, marketplace, code, grant_type="client_credentials"))[:2] == (400, "bad_request")
    assert error(token(emulator, marketplace, "not-a-code"))[:2] == (400, "bad_request")
    body = {"code": code, "grant_type": "authorization_code", "client_id": marketplace["id"]}  # no secret
    assert error(emulator.post("/oauth/token", json=body))[:2] == (400, "bad_request")
    assert answer(token(emulator, marketplace, code))["token_type"] == "Bearer"  # refusals left the code unspent


@pytest.mark.parametrize(
    "query",
    [{"response_type": "token"}, {"redirect_uri": "https://evil.example.com/steal"}, {"client_id": "unknown"}],
)
def test_refused_authorizations(emulator: EmulatorHandle, marketplace: dict, query: dict) -> None:
    assert error(authorize(emulator, marketplace, **query))[:2] == (400, "bad_request")


def test_token_info_and_revoke_need_an_oauth_token(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, marketplace: dict
) -> None:
    assert error(emulator.get("/v2/tokenInfo"))[:2] == (401, "unauthorized")
    assert error(emulator.get("/v2/tokenInfo", headers={"Authorization": "Bearer not-issued"}))[:2] == (
        401,
        "invalid_auth",
    )
    assert (
        emulator.get("/v2/tokenInfo", headers=sunshine_app.basic_headers()).status == 403
    )  # an app key is no integration
    integration = answer(
        sunshine_app.request(
            "POST",
            "integrations",
            json={"type": "custom", "webhooks": [{"target": "https://e.com/h", "triggers": ["*"]}]},
        ),
        201,
    )["integration"]
    key = answer(
        sunshine_app.request("POST", f"integrations/{integration['id']}/keys", json={"displayName": "k"}), 201
    )["key"]
    int_basic = {"Authorization": "Basic " + base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()}
    assert (
        emulator.request("DELETE", "/oauth/authorization", headers=int_basic).status == 403
    )  # a custom integration is deleted, not revoked
    assert emulator.get("/v2/tokenInfo", headers=int_basic).status == 401
    assert emulator.request("DELETE", "/oauth/authorization").status == 401


def test_a_revoked_app_revokes_its_oauth_tokens(
    emulator: EmulatorHandle, sunshine_app: SunshineApp, marketplace: dict
) -> None:
    granted = answer(token(emulator, marketplace, code_of(authorize(emulator, marketplace))))
    bearer = {"Authorization": f"Bearer {granted['access_token']}"}
    emulator.control.revoke(provider="sunshine", app=sunshine_app.id)
    assert error(emulator.get("/v2/tokenInfo", headers=bearer))[:2] == (401, "invalid_auth")


def test_the_demo_seeds_marketplace_client() -> None:
    """The standalone server's demo seed declares a marketplace client granting its demo app."""
    from emulator.app import create_app
    from emulator.config import EmulatorConfig, parse_seed

    seed = yaml.safe_load((Path(__file__).resolve().parents[1] / "emulator" / "demo_seed.yaml").read_text())
    [client] = seed["sunshine"]["oauth_clients"]
    http = create_app(EmulatorConfig(seed=parse_seed(seed))).test_client()
    redirect = http.get(f"/oauth/authorize?response_type=code&client_id={client['id']}")
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    body = {
        "code": code,
        "grant_type": "authorization_code",
        "client_id": client["id"],
        "client_secret": client["secret"],
    }
    granted = http.post("/oauth/token", json=body).get_json()
    info = http.get("/v2/tokenInfo", headers={"Authorization": f"Bearer {granted['access_token']}"}).get_json()
    assert info["app"]["id"] == client["appId"] == seed["sunshine"]["apps"][0]["id"]
