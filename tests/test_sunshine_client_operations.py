"""The official Python client `sunshine-conversations-client` 17.0.1, unchanged, on the operations past users,
conversations and messages: UpdateIntegration, attachments, PostActivity, download, conversionEvents,
SyncUser and the OAuth endpoints (the client strictly checks each documented status and schema)."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sunshine_conversations_client as sc
from sunshine_conversations_client.exceptions import BadRequestException, NotFoundException, UnauthorizedException

from emulator.pytest_plugin import EmulatorHandle, SunshineApp
from emulator.pytest_plugin.sunshine_webhooks import SunshineWebhookEvents


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """The client needs a socket: every Sunshine fixture of this module talks to the real HTTP server."""
    return emulator_server


def client(app: SunshineApp) -> sc.ApiClient:
    return sc.ApiClient(app.client_configuration())


def test_update_integration(sunshine_app: SunshineApp) -> None:
    integrations = sc.IntegrationsApi(client(sunshine_app))
    hook = sc.Webhook(target="https://example.com/hook", triggers=["conversation:message"])
    integration_id = integrations.create_integration(
        sunshine_app.id, sc.Custom(type="custom", display_name="Bot", webhooks=[hook])
    ).integration.id
    rename = sc.IntegrationUpdate(actual_instance=sc.CustomUpdate(display_name="Support bot"))
    updated = integrations.update_integration(sunshine_app.id, integration_id, rename)
    assert isinstance(updated, sc.IntegrationResponse) and updated.integration.display_name == "Support bot"
    with pytest.raises(NotFoundException) as missing:
        integrations.update_integration(sunshine_app.id, "0" * 24, rename)
    assert missing.value.data.errors[0].code == "integration_not_found"


def test_upload_serve_and_delete_an_attachment(sunshine_app: SunshineApp, sunshine_conversation: Any) -> None:
    attachments = sc.AttachmentsApi(client(sunshine_app))
    png = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(32)
    uploaded = attachments.upload_attachment(
        sunshine_app.id, "public", ("photo.png", png), var_for="message", conversation_id=sunshine_conversation.id
    )
    url = uploaded.attachment.media_url
    assert uploaded.attachment.media_type == "image/png" and url.startswith(
        sunshine_app.handle.base_url + "/sc/attachments/v2/"
    )
    served = requests.get(url, timeout=10)
    assert (served.status_code, served.headers["Content-Type"], served.content) == (200, "image/png", png)
    # the uploaded file goes out in an image message
    message = sc.MessagePost(
        author=sc.Author(type="business"), content=sc.Content(sc.ImageMessage(type="image", media_url=url))
    )
    posted = sc.MessagesApi(client(sunshine_app)).post_message(sunshine_app.id, sunshine_conversation.id, message)
    assert posted.messages[0].content.actual_instance.media_url == url

    assert attachments.delete_attachment(sunshine_app.id, sc.AttachmentDeleteBody(media_url=url)) == {}
    assert requests.get(url, timeout=10).status_code == 404
    with pytest.raises(NotFoundException):
        attachments.delete_attachment(sunshine_app.id, sc.AttachmentDeleteBody(media_url=url))
    with pytest.raises(BadRequestException) as unsupported:
        attachments.delete_attachment(
            sunshine_app.id, sc.AttachmentDeleteBody(media_url="https://badhost.com/image.png")
        )
    assert (
        json.loads(unsupported.value.body)["errors"][0]["title"]
        == "Unsupported media URL for attachment deletion: https://badhost.com/image.png"
    )


def test_a_users_read_through_post_activity_reaches_the_webhook(
    sunshine_app: SunshineApp, sunshine_conversation: Any, sunshine_webhook_events: SunshineWebhookEvents
) -> None:
    activities = sc.ActivitiesApi(client(sunshine_app))
    read = sc.ActivityPost(
        type="conversation:read", author=sc.Author(type="user", user_id=sunshine_conversation.user.id)
    )
    assert activities.post_activity(sunshine_app.id, sunshine_conversation.id, read) == {}
    [read] = sunshine_webhook_events.payloads("conversation:read")
    assert read["activity"]["author"]["userId"] == sunshine_conversation.user.id


def test_download_and_conversion_events(sunshine_app: SunshineApp, sunshine_conversation: Any) -> None:
    conversations = sc.ConversationsApi(client(sunshine_app))
    ref = {
        "url": "https://p61-content.icloud.com/M58C",
        "bid": "com.apple.messages",
        "key": "00c0",
        "signature": "81a6",
        "owner": "M58C.C01",
    }
    body = sc.DownloadMessageRefBody.from_dict(
        {"userId": sunshine_conversation.user.id, "apple": {"interactiveDataRef": ref}}
    )
    assert conversations.download_message_ref(sunshine_app.id, sunshine_conversation.id, body) == {}
    payload = sc.MetaConversionEventPayload(data=[{"event_name": "Purchase"}, {"event_name": "Lead"}])
    events = sc.ConversionEventsBody(
        sc.InstagramConversionEventsBody(instagram=sc.MetaConversionEvent(payload=payload))
    )
    result = conversations.post_conversion_events(
        sunshine_app.id, sunshine_conversation.id, events
    )  # 17.0.1 reads an object
    assert result["conversionEvents"]["eventsReceived"] == 2 and result["conversionEvents"]["datasetId"].isdigit()


def test_sync_user(emulator_server: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    user_id = secrets.token_hex(12)
    state = emulator_server.control.export_state()
    state["namespaces"][emulator_server.namespace]["providers"]["sunshine"]["apps"][sunshine_app.id]["users"][
        user_id
    ] = {"id": user_id, "zendeskId": "35436"}
    emulator_server.control.import_state(state)
    users = sc.UsersApi(client(sunshine_app))
    assert users.sync_user(sunshine_app.id, "35436").user.id == user_id
    assert users.sync_user(sunshine_app.id, "35436", sc.SyncUserBody(surviving_zendesk_id="99")).user.zendesk_id == "99"
    with pytest.raises(NotFoundException):
        users.sync_user(sunshine_app.id, "35436")


def test_the_oauth_endpoints(emulator_server: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    oauth = {
        "id": secrets.token_hex(12),
        "secret": secrets.token_urlsafe(18),
        "name": "Partner bot",
        "redirectUris": ["https://partner.example.com/cb"],
        "appId": sunshine_app.id,
    }
    emulator_server.control.seed({"sunshine": {"oauth_clients": [oauth]}})
    # the browser's step: the client would follow the redirect to the partner, so it is taken with requests
    redirect = requests.get(
        f"{emulator_server.base_url}/oauth/authorize",
        params={"client_id": oauth["id"], "response_type": "code"},
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]

    anonymous = sc.ApiClient(sc.Configuration(host=emulator_server.base_url))
    request = sc.GetTokenRequest(
        code=code, grant_type="authorization_code", client_id=oauth["id"], client_secret=oauth["secret"]
    )
    granted = sc.OAuthEndpointsApi(anonymous).get_token(request)
    assert granted.token_type == "Bearer"
    with pytest.raises(BadRequestException):
        sc.OAuthEndpointsApi(anonymous).get_token(request)  # spent

    as_partner = sc.ApiClient(sc.Configuration(host=emulator_server.base_url, access_token=granted.access_token))
    bearer = {
        "Authorization": f"Bearer {granted.access_token}"
    }  # the spec gives tokenInfo no security: the client sends none
    info = sc.OAuthEndpointsApi(as_partner).get_token_info(_headers=bearer)
    assert info.app.id == sunshine_app.id
    assert (
        sc.UsersApi(as_partner)
        .create_user(sunshine_app.id, sc.UserCreateBody(external_id="from-partner"))
        .user.external_id
        == "from-partner"
    )
    assert sc.OAuthEndpointsApi(as_partner).revoke_access() == {}
    with pytest.raises(UnauthorizedException):
        sc.OAuthEndpointsApi(as_partner).get_token_info(_headers=bearer)
