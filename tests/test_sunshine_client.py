"""The official Python client `sunshine-conversations-client` 17.0.1 against the emulator's HTTP server
(reference section 8.1).

The client is strict: it returns None for a 2xx the operation does not document, validates every response
with pydantic (string ids, real booleans, known enums, no empty strings) and sends `page` / `filter` as
JSON-encoded query values. Each test uses its own namespace and app on the session's server; the clock is
moved through the control API, never waited for.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
import sunshine_conversations_client as sc
from sunshine_conversations_client.exceptions import (
    BadRequestException,
    ConflictException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)

from emulator.providers.sunshine.auth import sign_jwt
from emulator.pytest_plugin import EmulatorHandle, SunshineApp

SPECIAL_EXTERNAL_ID = "a/b@c d+é"  # every character the client percent-encodes in a path


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """The client needs a socket: every Sunshine fixture of this module talks to the real HTTP server."""
    return emulator_server


def configuration(app: SunshineApp, auth: str, prefix: str = "") -> sc.Configuration:
    """Basic with the app key, or Bearer with an app-scope JWT; `prefix` `/sc` is the Zendesk-style host."""
    config = app.client_configuration(jwt=app.jwt() if auth == "jwt" else None)
    config.host = app.handle.base_url + prefix
    return config


def client(app: SunshineApp, auth: str = "basic", prefix: str = "") -> sc.ApiClient:
    return sc.ApiClient(configuration(app, auth, prefix))


def account_client(app: SunshineApp, jwt: bool = False) -> sc.ApiClient:
    host = app.handle.base_url
    if jwt:
        return sc.ApiClient(sc.Configuration(host=host, access_token=app.jwt(scope="account")))
    return sc.ApiClient(sc.Configuration(host=host, username=app.account_key_id, password=app.account_secret))


def error_of(raised: pytest.ExceptionInfo) -> dict:
    [error] = json.loads(raised.value.body)["errors"]
    return error


def personal_with(api: sc.ApiClient, app_id: str, user_id: str) -> sc.Conversation:
    body = sc.ConversationCreateBody(
        type="personal", participants=[sc.ParticipantSubSchema(sc.ParticipantWithUserId(user_id=user_id))]
    )
    return sc.ConversationsApi(api).create_conversation(app_id, body).conversation


def group_with(api: sc.ApiClient, app_id: str, *user_ids: str) -> sc.Conversation:
    participants = [
        sc.ParticipantSubSchema(sc.ParticipantWithUserId(user_id=u, subscribe_sdk_client=True)) for u in user_ids
    ]
    body = sc.ConversationCreateBody(type="sdkGroup", display_name="Team", participants=participants)
    return sc.ConversationsApi(api).create_conversation(app_id, body).conversation


def business_text(value: str) -> sc.MessagePost:
    return sc.MessagePost(
        author=sc.Author(type="business"), content=sc.Content(sc.TextMessage(type="text", text=value))
    )


# --- the acceptance walk, with Basic and with a JWT, at / and at /sc ------------------------------------------


@pytest.mark.parametrize(
    "auth, prefix",
    [("basic", ""), ("jwt", ""), ("basic", "/sc"), ("jwt", "/sc/"), ("basic", "/")],
    ids=["basic", "jwt", "basic-sc", "jwt-sc-trailing-slash", "basic-trailing-slash"],
)
def test_user_conversation_message_walk(sunshine_app, auth, prefix):
    api = client(sunshine_app, auth, prefix)
    users, conversations, messages = sc.UsersApi(api), sc.ConversationsApi(api), sc.MessagesApi(api)
    external_id = f"{SPECIAL_EXTERNAL_ID}-{secrets.token_hex(3)}"

    created = users.create_user(
        sunshine_app.id,
        sc.UserCreateBody(external_id=external_id, profile=sc.Profile(given_name="Ada", email="ada@example.com")),
    )
    assert isinstance(created, sc.UserResponse)  # None would mean a 2xx other than the documented 201
    user = created.user
    assert user.external_id == external_id and len(user.id) == 24 and user.profile.given_name == "Ada"

    conversation = personal_with(api, sunshine_app.id, user.id)
    assert conversation.type == "personal" and conversation.is_default is True

    posted = messages.post_message(sunshine_app.id, conversation.id, business_text("hello"))
    assert isinstance(posted, sc.MessagePostResponse)
    [message] = posted.messages
    assert message.author.type == "business" and message.source.type == "api:conversations"
    assert message.content.actual_instance.text == "hello"
    user_post = sc.MessagePost(
        author=sc.Author(type="user", user_id=user.id), content=sc.Content(sc.TextMessage(type="text", text="hi back"))
    )
    assert messages.post_message(sunshine_app.id, conversation.id, user_post).messages[0].author.user_id == user.id

    listed = messages.list_messages(sunshine_app.id, conversation.id)
    assert [m.content.actual_instance.text for m in listed.messages] == ["hello", "hi back"]
    assert [m.author.type for m in listed.messages] == ["business", "user"]
    assert listed.meta.has_more is False

    assert users.get_user(sunshine_app.id, external_id).user.id == user.id
    assert users.get_user(sunshine_app.id, user.id).user.external_id == external_id

    found = conversations.list_conversations(
        sunshine_app.id, sc.ConversationListFilter(user_id=user.id), page=sc.Page(size=10)
    )
    assert [c.id for c in found.conversations] == [conversation.id] and found.meta.has_more is False
    by_external = conversations.list_conversations(
        sunshine_app.id, sc.ConversationListFilter(user_external_id=external_id)
    )
    assert [c.id for c in by_external.conversations] == [conversation.id]
    assert conversations.get_conversation(sunshine_app.id, conversation.id).conversation.is_default is True


def test_the_client_reaches_the_sc_prefix_and_sends_json_queries(sunshine_app, sunshine_user):
    api = client(sunshine_app, "basic", "/sc")
    sc.ConversationsApi(api).list_conversations(
        sunshine_app.id, sc.ConversationListFilter(user_id=sunshine_user.id), page=sc.Page(size=10)
    )
    [entry] = sunshine_app.handle.control.journal(method="GET", path=f"/sc{sunshine_app.path('conversations')}")
    assert entry["status"] == 200
    assert entry["query"].startswith("page=%7B")  # the JSON-in-query style is what this test exercises
    assert entry["request_headers"]["User-Agent"] == "OpenAPI-Generator/17.0.1/python"


@pytest.mark.parametrize(
    "external_id", ["slash/in/it", "at@sign", "with space", "plus+sign", "ünïcødé", "100%", "a/b@c d+é"]
)
def test_get_update_and_delete_a_user_by_an_external_id_that_needs_escaping(sunshine_app, external_id):
    users = sc.UsersApi(client(sunshine_app))
    created = users.create_user(sunshine_app.id, sc.UserCreateBody(external_id=external_id)).user
    assert users.get_user(sunshine_app.id, external_id).user.id == created.id
    updated = users.update_user(sunshine_app.id, external_id, sc.UserUpdateBody(profile=sc.Profile(surname="Lovelace")))
    assert updated.user.profile.surname == "Lovelace" and updated.user.external_id == external_id
    assert users.delete_user(sunshine_app.id, external_id) == {}
    with pytest.raises(NotFoundException):
        users.get_user(sunshine_app.id, external_id)


def test_walking_conversations_with_client_pages(sunshine_app, sunshine_user):
    api = client(sunshine_app, "jwt")
    ids = [personal_with(api, sunshine_app.id, sunshine_user.id).id for _ in range(23)]
    conversations, seen, page = sc.ConversationsApi(api), [], sc.Page(size=10)
    while True:
        listed = conversations.list_conversations(
            sunshine_app.id, sc.ConversationListFilter(user_id=sunshine_user.id), page=page
        )
        seen += [c.id for c in listed.conversations]
        if not listed.meta.has_more:
            break
        assert listed.links.next.startswith(sunshine_app.handle.base_url)
        page = sc.Page(after=listed.meta.after_cursor, size=10)
    assert seen == ids
    back = conversations.list_conversations(
        sunshine_app.id, sc.ConversationListFilter(user_id=sunshine_user.id), page=sc.Page(before=ids[20], size=10)
    )
    assert [c.id for c in back.conversations] == ids[10:20] and back.meta.has_more is True


def test_list_messages_pages_backwards_with_the_client(sunshine_app, sunshine_conversation):
    for n in range(105):
        sunshine_app.request(
            "POST",
            f"conversations/{sunshine_conversation.id}/messages",
            json={"author": {"type": "business"}, "content": {"type": "text", "text": f"m{n}"}},
        )
    messages = sc.MessagesApi(client(sunshine_app))
    newest = messages.list_messages(sunshine_app.id, sunshine_conversation.id)
    assert [m.content.actual_instance.text for m in newest.messages] == [f"m{n}" for n in range(5, 105)]
    assert newest.meta.has_more is True and newest.links.prev is not None and newest.links.next is None
    older = messages.list_messages(
        sunshine_app.id, sunshine_conversation.id, page=sc.Page(before=newest.meta.before_cursor)
    )
    assert [m.content.actual_instance.text for m in older.messages] == [f"m{n}" for n in range(5)]
    assert older.meta.has_more is False


# --- errors as the client raises them --------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "jwt"])
def test_unknown_user_and_conversation_raise_not_found(sunshine_app, auth):
    api = client(sunshine_app, auth)
    with pytest.raises(NotFoundException) as user:
        sc.UsersApi(api).get_user(sunshine_app.id, "missing")
    assert user.value.status == 404 and user.value.data.errors[0].code == "user_not_found"
    with pytest.raises(NotFoundException) as conversation:
        sc.ConversationsApi(api).get_conversation(sunshine_app.id, secrets.token_hex(12))
    assert error_of(conversation) == {"code": "conversation_not_found", "title": "Conversation not found"}
    with pytest.raises(NotFoundException) as listed:
        sc.ConversationsApi(api).list_conversations(
            sunshine_app.id, sc.ConversationListFilter(user_id=secrets.token_hex(12))
        )
    assert error_of(listed) == {"code": "user_not_found", "title": "User not found"}


def test_a_wrong_secret_is_unauthorized(sunshine_app):
    config = sc.Configuration(
        host=sunshine_app.handle.base_url, username=sunshine_app.key_id, password=sunshine_app.secret + "x"
    )
    with pytest.raises(UnauthorizedException) as raised:
        sc.UsersApi(sc.ApiClient(config)).get_user(sunshine_app.id, "anyone")
    assert raised.value.status == 401 and error_of(raised)["code"] == "invalid_auth"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = (
        base64.urlsafe_b64encode(json.dumps({**claims, "scope": "app", "sub": "me"}).encode()).rstrip(b"=").decode()
    )
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("kind", ["tampered", "unknown kid", "wrong secret", "unsigned"])
def test_a_bad_jwt_is_unauthorized(sunshine_app, kind):
    tokens = {
        "tampered": lambda: _tampered(sunshine_app.jwt()),
        "unknown kid": lambda: sign_jwt({"scope": "app"}, f"app_{secrets.token_hex(12)}", sunshine_app.secret),
        "wrong secret": lambda: sign_jwt({"scope": "app"}, sunshine_app.key_id, "not-the-secret-at-all-000"),
        "unsigned": lambda: sunshine_app.jwt().rsplit(".", 1)[0] + ".",
    }
    api = sc.ApiClient(sc.Configuration(host=sunshine_app.handle.base_url, access_token=tokens[kind]()))
    with pytest.raises(UnauthorizedException) as raised:
        sc.UsersApi(api).get_user(sunshine_app.id, "anyone")
    assert error_of(raised)["code"] == "invalid_auth"


def test_an_expired_jwt_is_unauthorized_and_a_fresh_one_works(sunshine_app, expired_sunshine_jwt, sunshine_user):
    with pytest.raises(UnauthorizedException) as raised:
        sc.UsersApi(client_with_token(sunshine_app, expired_sunshine_jwt)).get_user(sunshine_app.id, sunshine_user.id)
    error = error_of(raised)
    assert (
        error["code"] == "invalid_auth" and "expired" in error["title"].lower()
    )  # [?] the real title is not published
    fresh = sc.UsersApi(client_with_token(sunshine_app, sunshine_app.jwt()))
    assert fresh.get_user(sunshine_app.id, sunshine_user.id).user.id == sunshine_user.id


def client_with_token(app: SunshineApp, token: str) -> sc.ApiClient:
    return sc.ApiClient(sc.Configuration(host=app.handle.base_url, access_token=token))


def test_a_jwt_that_expires_later_works_until_the_clock_passes_it(sunshine_app, sunshine_user):
    control = sunshine_app.handle.control
    now = int(control.now().timestamp())
    users = sc.UsersApi(client_with_token(sunshine_app, sunshine_app.jwt(exp=now + 3600)))
    assert users.get_user(sunshine_app.id, sunshine_user.id).user.id == sunshine_user.id
    control.advance("2h")
    with pytest.raises(UnauthorizedException):
        users.get_user(sunshine_app.id, sunshine_user.id)


@pytest.mark.parametrize("auth", ["basic", "jwt"])
def test_an_app_key_on_account_only_routes_is_forbidden(sunshine_app, auth):
    keys = sc.AppKeysApi(client(sunshine_app, auth))
    with pytest.raises(ForbiddenException) as listed:
        keys.list_app_keys(sunshine_app.id)
    assert error_of(listed) == {"code": "forbidden", "title": "Forbidden"}
    with pytest.raises(ForbiddenException):
        keys.create_app_key(sunshine_app.id, sc.AppKeyCreateBody(display_name="not mine to make"))
    with pytest.raises(ForbiddenException):
        sc.AppsApi(client(sunshine_app, auth)).list_apps()


@pytest.mark.parametrize("auth", ["basic", "jwt"])
def test_an_app_key_of_another_app_is_forbidden(sunshine_app, auth):
    other_id = secrets.token_hex(12)
    other_key, other_secret = f"app_{secrets.token_hex(12)}", secrets.token_urlsafe(18)
    sunshine_app.handle.control.seed(
        {"sunshine": {"apps": [{"id": other_id, "keys": [{"id": other_key, "secret": other_secret}]}]}}
    )
    with pytest.raises(ForbiddenException) as raised:
        sc.UsersApi(client(sunshine_app, auth)).create_user(other_id, sc.UserCreateBody(external_id="intruder"))
    assert error_of(raised) == {"code": "forbidden", "title": "Forbidden"}
    own = sc.ApiClient(sc.Configuration(host=sunshine_app.handle.base_url, username=other_key, password=other_secret))
    assert (
        sc.UsersApi(own).create_user(other_id, sc.UserCreateBody(external_id="welcome")).user.external_id == "welcome"
    )


def test_a_duplicate_external_id_conflicts(sunshine_app, sunshine_user):
    users = sc.UsersApi(client(sunshine_app))
    with pytest.raises(ConflictException) as raised:
        users.create_user(sunshine_app.id, sc.UserCreateBody(external_id=sunshine_user.external_id))
    assert raised.value.status == 409
    assert error_of(raised) == {"code": "conflict", "title": "User already exists"}


def test_the_default_conversation_cannot_be_deleted(sunshine_app, sunshine_conversation):
    conversations = sc.ConversationsApi(client(sunshine_app))
    with pytest.raises(BadRequestException) as raised:
        conversations.delete_conversation(sunshine_app.id, sunshine_conversation.id)
    assert (
        error_of(raised)["title"]
        == f"Conversation {sunshine_conversation.id} cannot be deleted because it is the default."
    )
    second = personal_with(client(sunshine_app), sunshine_app.id, sunshine_conversation.user.id)
    assert second.is_default is False
    assert conversations.delete_conversation(sunshine_app.id, second.id) == {}


# --- participants, activity, message deletes ----------------------------------------------------------------------


def test_join_list_and_leave_an_sdk_group(sunshine_app):
    api = client(sunshine_app, "jwt")
    users, participants = sc.UsersApi(api), sc.ParticipantsApi(api)
    ada, bob = (
        users.create_user(sunshine_app.id, sc.UserCreateBody(external_id=f"{name}/{secrets.token_hex(3)}")).user
        for name in ("ada", "bob")
    )
    group = group_with(api, sunshine_app.id, ada.id)
    assert group.type == "sdkGroup" and group.display_name == "Team" and group.is_default is False

    joined = participants.join_conversation(
        sunshine_app.id, group.id, sc.ParticipantJoinBody(user_external_id=bob.external_id, subscribe_sdk_client=True)
    )
    assert isinstance(joined, sc.ParticipantResponse)  # 201, as documented
    assert joined.participant.user_id == bob.id and [a.type for a in joined.participant.client_associations] == ["sdk"]

    listed = participants.list_participants(sunshine_app.id, group.id, page=sc.Page(size=10))
    assert [p.user_id for p in listed.participants] == [ada.id, bob.id]
    assert all(p.unread_count == 0 for p in listed.participants)

    leave = sc.ParticipantLeaveBody(sc.ParticipantLeaveBodyUserExternalId(user_external_id=bob.external_id))
    assert participants.leave_conversation(sunshine_app.id, group.id, leave) == {}
    with pytest.raises(NotFoundException) as again:
        participants.leave_conversation(sunshine_app.id, group.id, leave)
    assert error_of(again) == {"code": "not_found", "title": "User is not a member of the conversation"}
    assert [p.user_id for p in participants.list_participants(sunshine_app.id, group.id).participants] == [ada.id]


def test_join_a_personal_conversation_is_a_bad_request(sunshine_app, sunshine_conversation):
    api = client(sunshine_app)
    other = (
        sc.UsersApi(api).create_user(sunshine_app.id, sc.UserCreateBody(external_id=f"o-{secrets.token_hex(3)}")).user
    )
    with pytest.raises(BadRequestException):
        sc.ParticipantsApi(api).join_conversation(
            sunshine_app.id,
            sunshine_conversation.id,
            sc.ParticipantJoinBody(user_id=other.id, subscribe_sdk_client=False),
        )


def test_activity_and_message_deletes_answer_empty_objects(sunshine_app, sunshine_conversation):
    api = client(sunshine_app)
    messages = sc.MessagesApi(api)
    read = sc.ActivityPost(type="conversation:read", author=sc.Author(type="business"))
    assert sc.ActivitiesApi(api).post_activity(sunshine_app.id, sunshine_conversation.id, read) == {}
    conversation = sc.ConversationsApi(api).get_conversation(sunshine_app.id, sunshine_conversation.id).conversation
    assert conversation.business_last_read is not None
    first, second = (
        messages.post_message(sunshine_app.id, sunshine_conversation.id, business_text(t)).messages[0]
        for t in ("one", "two")
    )
    assert messages.delete_message(sunshine_app.id, sunshine_conversation.id, first.id) == {}
    assert [m.id for m in messages.list_messages(sunshine_app.id, sunshine_conversation.id).messages] == [second.id]
    assert messages.delete_all_messages(sunshine_app.id, sunshine_conversation.id) == {}
    assert messages.list_messages(sunshine_app.id, sunshine_conversation.id).messages == []


# --- integrations, webhooks and app keys -------------------------------------------------------------------------


def test_webhooks_through_a_custom_integration(sunshine_app):
    api = client(sunshine_app)
    integration = sc.Custom(
        type="custom",
        display_name="bot",
        webhooks=[sc.Webhook(target="https://example.com/hook", triggers=["conversation:message"])],
    )
    created = sc.IntegrationsApi(api).create_integration(sunshine_app.id, integration)
    assert isinstance(created, sc.IntegrationResponse)
    custom = created.integration
    assert custom.type == "custom" and len(custom.id) == 24
    [first_hook] = custom.webhooks
    assert first_hook.version == "v2" and first_hook.secret and first_hook.include_full_user is False

    webhooks = sc.WebhooksApi(api)
    body = sc.WebhookCreateBody(
        target="https://example.com/other",
        triggers=["conversation:create", "conversation:join"],
        include_full_user=True,
    )
    hook = webhooks.create_webhook(sunshine_app.id, custom.id, body).webhook
    assert (hook.target, hook.triggers, hook.include_full_user, hook.version) == (
        "https://example.com/other",
        ["conversation:create", "conversation:join"],
        True,
        "v2",
    )
    assert [w.id for w in webhooks.list_webhooks(sunshine_app.id, custom.id).webhooks] == [first_hook.id, hook.id]
    assert webhooks.get_webhook(sunshine_app.id, custom.id, hook.id).webhook.secret == hook.secret
    changed = webhooks.update_webhook(sunshine_app.id, custom.id, hook.id, sc.WebhookBody(triggers=["*"]))
    assert changed.webhook.triggers == ["*"] and changed.webhook.target == hook.target
    assert webhooks.delete_webhook(sunshine_app.id, custom.id, hook.id) == {}
    with pytest.raises(NotFoundException):
        webhooks.get_webhook(sunshine_app.id, custom.id, hook.id)
    with pytest.raises(NotFoundException) as unknown:
        webhooks.list_webhooks(sunshine_app.id, secrets.token_hex(12))
    assert error_of(unknown)["code"] == "integration_not_found"


@pytest.mark.parametrize("jwt", [False, True], ids=["basic", "jwt"])
def test_app_keys_with_the_account_key(sunshine_app, sunshine_user, jwt):
    keys = sc.AppKeysApi(account_client(sunshine_app, jwt))
    created = keys.create_app_key(sunshine_app.id, sc.AppKeyCreateBody(display_name="ci key"))
    assert isinstance(created, sc.AppKeyResponse)
    key = created.key
    assert key.id.startswith("app_") and key.display_name == "ci key" and key.secret
    assert key.id in [k.id for k in keys.list_app_keys(sunshine_app.id).keys]
    assert keys.get_app_key(sunshine_app.id, key.id).key.display_name == "ci key"

    # the new key authenticates at once, by Basic and by a JWT it signs
    basic = sc.ApiClient(sc.Configuration(host=sunshine_app.handle.base_url, username=key.id, password=key.secret))
    assert sc.UsersApi(basic).get_user(sunshine_app.id, sunshine_user.id).user.id == sunshine_user.id
    signed = client_with_token(sunshine_app, sign_jwt({"scope": "app"}, key.id, key.secret))
    assert sc.UsersApi(signed).get_user(sunshine_app.id, sunshine_user.external_id).user.id == sunshine_user.id

    assert keys.delete_app_key(sunshine_app.id, key.id) == {}
    with pytest.raises(UnauthorizedException):
        sc.UsersApi(basic).get_user(sunshine_app.id, sunshine_user.id)
    with pytest.raises(NotFoundException):
        keys.get_app_key(sunshine_app.id, key.id)


def test_the_account_key_works_on_app_routes_too(sunshine_app, sunshine_user):
    users = sc.UsersApi(account_client(sunshine_app))
    assert users.get_user(sunshine_app.id, sunshine_user.external_id).user.id == sunshine_user.id
