"""The legacy v1.1 API against the emulator's HTTP server, driven by the PyPI `smooch` 5.34.0 client
(reference sections 7 and 8.3), and by plain HTTP where that client cannot go (`/v1.1/appusers` without an
appId, as smooch-core calls it with app and appUser JWTs, section 8.4).

`smooch.Configuration` is a process-wide singleton: the `smooch_as` fixture sets its credentials for one
test and puts the old ones back afterwards; the host is given to each `ApiClient` instead.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator

import pytest
import smooch
from smooch.rest import ApiException

from emulator.pytest_plugin import EmulatorHandle, SunshineApp

SPECIAL_USER_ID = "a/b@c d+é"  # smooch percent-encodes every character of a path parameter


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """The client needs a socket: every Sunshine fixture of this module talks to the real HTTP server."""
    return emulator_server


Connect = Callable[..., smooch.ApiClient]


@pytest.fixture
def smooch_as(emulator_server: EmulatorHandle) -> Iterator[Connect]:
    """`smooch_as(basic=(keyId, secret))` or `smooch_as(jwt=token)`: an ApiClient on the emulator with those
    credentials in the singleton Configuration, restored when the test ends. The credentials of the last call
    apply to every client of the test, so a test uses a client only until it connects again."""
    config = smooch.Configuration()
    saved = (config.username, config.password, dict(config.api_key), dict(config.api_key_prefix))

    def connect(*, basic: tuple[str, str] | None = None, jwt: str | None = None) -> smooch.ApiClient:
        config.username, config.password = basic or ("", "")
        config.api_key.pop("Authorization", None)
        config.api_key_prefix.pop("Authorization", None)
        if jwt is not None:  # Basic `Og==` goes first, then the JWT header overwrites it (reference 8.3)
            config.api_key["Authorization"], config.api_key_prefix["Authorization"] = jwt, "Bearer"
        return smooch.ApiClient(host=emulator_server.base_url)

    yield connect
    config.username, config.password = saved[0], saved[1]
    config.api_key.clear()
    config.api_key.update(saved[2])
    config.api_key_prefix.clear()
    config.api_key_prefix.update(saved[3])


def app_client(smooch_as: Connect, app: SunshineApp, auth: str) -> smooch.ApiClient:
    if auth == "jwt":
        return smooch_as(jwt=app.jwt())
    if auth == "account":
        return smooch_as(basic=(app.account_key_id, app.account_secret))
    if auth == "account-jwt":
        return smooch_as(jwt=app.jwt(scope="account"))
    return smooch_as(basic=(app.key_id, app.secret))


def v1_error(raised: pytest.ExceptionInfo) -> dict:
    body = json.loads(raised.value.body)
    assert set(body) == {"error"}, body
    return body["error"]


def fresh_id() -> str:
    return f"ext-{secrets.token_hex(4)}"


def text(value: str, role: str = "appUser", **fields: str) -> smooch.MessagePost:
    return smooch.MessagePost(role=role, type="text", text=value, **fields)


def v1_path(app: SunshineApp, tail: str) -> str:
    return f"/v1.1/apps/{app.id}/{tail}"


def basic_auth(key_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the acceptance walk (reference 8.3), with Basic, an app JWT and the account key ------------------------


@pytest.mark.parametrize("auth", ["basic", "jwt", "account", "account-jwt"])
def test_pre_create_post_read_and_get_with_the_smooch_client(smooch_as, sunshine_app, auth):
    api = app_client(smooch_as, sunshine_app, auth)
    app_users, conversation_api = smooch.AppUserApi(api), smooch.ConversationApi(api)
    user_id = fresh_id()

    body = smooch.AppUserPreCreate(
        user_id=user_id, given_name="Ada", surname="Lovelace", email="ada@example.com", properties={"plan": "gold"}
    )
    created = app_users.pre_create_app_user(sunshine_app.id, body)
    assert isinstance(created, smooch.AppUserResponse)
    user = created.app_user
    assert len(user.id) == 24 and user.user_id == user_id and user.given_name == "Ada" and user.surname == "Lovelace"
    assert user.properties == {"plan": "gold"} and user.conversation_started is False and user.clients == []

    posted = conversation_api.post_message(sunshine_app.id, user.id, text("hi v1"))
    assert isinstance(posted, smooch.MessageResponse)
    message = posted.message
    assert (message.role, message.type, message.text, message.author_id, message.name) == (
        "appUser",
        "text",
        "hi v1",
        user.id,
        "Ada Lovelace",
    )
    assert isinstance(message.received, float) and message.received > 1_500_000_000 and message.source.type == "api"
    assert posted.conversation.unread_count == 0 and len(posted.conversation.id) == 24

    reply = conversation_api.post_message(
        sunshine_app.id,
        user_id,
        text("hello back", role="appMaker", name="Support", avatar_url="https://example.com/a.png"),
    )
    assert (reply.message.role, reply.message.name, reply.message.author_id) == ("appMaker", "Support", sunshine_app.id)
    assert reply.conversation.id == posted.conversation.id and reply.conversation.unread_count == 1

    listed = conversation_api.get_messages(sunshine_app.id, user_id)
    assert isinstance(listed, smooch.GetMessagesResponse)
    assert [(m.role, m.text) for m in listed.messages] == [("appUser", "hi v1"), ("appMaker", "hello back")]
    assert (
        listed.conversation.id == posted.conversation.id
        and listed.conversation.unread_count == 1
        and listed.next is None
    )
    assert listed.messages[1].avatar_url == "https://example.com/a.png"

    by_user_id = app_users.get_app_user(sunshine_app.id, user_id).app_user
    by_smooch_id = app_users.get_app_user(sunshine_app.id, user.id).app_user
    assert by_user_id.id == by_smooch_id.id == user.id and by_user_id.user_id == user_id
    assert by_user_id.conversation_started is True

    with pytest.raises(ApiException) as missing:
        app_users.get_app_user(sunshine_app.id, "nobody-" + user_id)
    assert missing.value.status == 404
    assert v1_error(missing) == {"code": "user_not_found", "description": "User not found"}


def test_update_merges_properties_and_delete_removes_the_user(smooch_as, sunshine_app):
    app_users = smooch.AppUserApi(app_client(smooch_as, sunshine_app, "basic"))
    user_id = fresh_id()
    app_users.pre_create_app_user(
        sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id, given_name="Ada", properties={"plan": "gold", "n": 1})
    )

    updated = app_users.update_app_user(
        sunshine_app.id, user_id, smooch.AppUserUpdate(surname="King", properties={"n": 2})
    )
    assert (updated.app_user.given_name, updated.app_user.surname) == ("Ada", "King")
    assert updated.app_user.properties == {"plan": "gold", "n": 2}  # additive: the old properties stay
    assert sunshine_app.request("GET", f"users/{user_id}").json()["user"]["metadata"] == {"plan": "gold", "n": 2}
    assert (
        sunshine_app.handle.control.calls(method="EVENT", path="user:update") == []
    )  # [C] identification changes only

    assert app_users.delete_app_user(sunshine_app.id, user_id) is None  # `{}`, read as nothing by the client
    with pytest.raises(ApiException) as gone:
        app_users.get_app_user(sunshine_app.id, user_id)
    assert gone.value.status == 404
    assert sunshine_app.request("GET", f"users/{user_id}").status == 404


def test_a_user_id_that_needs_escaping(smooch_as, sunshine_app):
    api = app_client(smooch_as, sunshine_app, "basic")
    user = (
        smooch.AppUserApi(api)
        .pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=SPECIAL_USER_ID))
        .app_user
    )
    assert smooch.AppUserApi(api).get_app_user(sunshine_app.id, SPECIAL_USER_ID).app_user.id == user.id
    smooch.ConversationApi(api).post_message(sunshine_app.id, SPECIAL_USER_ID, text("escaped"))
    assert [m.text for m in smooch.ConversationApi(api).get_messages(sunshine_app.id, SPECIAL_USER_ID).messages] == [
        "escaped"
    ]


def test_delete_messages_empties_the_conversation(smooch_as, sunshine_app):
    api = app_client(smooch_as, sunshine_app, "jwt")
    user_id = fresh_id()
    smooch.AppUserApi(api).pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id))
    conversation_api = smooch.ConversationApi(api)
    first = conversation_api.post_message(sunshine_app.id, user_id, text("one")).message
    conversation_api.post_message(sunshine_app.id, user_id, text("two"))
    conversation_api.delete_message(sunshine_app.id, user_id, first.id)
    assert [m.text for m in conversation_api.get_messages(sunshine_app.id, user_id).messages] == ["two"]
    conversation_api.delete_messages(sunshine_app.id, user_id)
    assert conversation_api.get_messages(sunshine_app.id, user_id).messages == []


def test_messages_of_a_user_without_a_conversation_are_an_empty_list(smooch_as, sunshine_app):
    api = app_client(smooch_as, sunshine_app, "basic")
    user_id = fresh_id()
    smooch.AppUserApi(api).pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id))
    listed = smooch.ConversationApi(api).get_messages(sunshine_app.id, user_id)
    assert listed.messages == [] and listed.conversation is None


# --- appUser JWTs: their own user only ---------------------------------------------------------------------


def test_an_app_user_jwt_reaches_only_its_own_user(smooch_as, sunshine_app):
    admin = smooch.AppUserApi(app_client(smooch_as, sunshine_app, "basic"))
    mine, other = fresh_id(), fresh_id()
    own = admin.pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=mine, given_name="Me")).app_user
    admin.pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=other))

    api = smooch_as(jwt=sunshine_app.jwt(scope="appUser", userId=mine))
    app_users, conversation_api = smooch.AppUserApi(api), smooch.ConversationApi(api)
    assert app_users.get_app_user(sunshine_app.id, mine).app_user.id == own.id
    assert app_users.get_app_user(sunshine_app.id, own.id).app_user.user_id == mine
    assert conversation_api.post_message(sunshine_app.id, mine, text("from me")).message.author_id == own.id
    assert [m.text for m in conversation_api.get_messages(sunshine_app.id, own.id).messages] == ["from me"]

    refusals = [
        lambda: app_users.get_app_user(sunshine_app.id, other),
        lambda: conversation_api.post_message(sunshine_app.id, other, text("as someone else")),
        lambda: conversation_api.get_messages(sunshine_app.id, other),
        lambda: app_users.get_app_user(sunshine_app.id, "nobody-at-all"),  # 403 before the lookup: no existence leak
        lambda: conversation_api.post_message(sunshine_app.id, mine, text("as the business", role="appMaker")),
        lambda: app_users.pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=fresh_id())),
    ]
    for refused in refusals:
        with pytest.raises(ApiException) as raised:
            refused()
        assert raised.value.status == 403
        assert v1_error(raised) == {"code": "forbidden", "description": "Invalid scope"}

    ghost = smooch.AppUserApi(smooch_as(jwt=sunshine_app.jwt(scope="appUser", userId="ghost-" + mine)))
    with pytest.raises(ApiException) as missing:  # its own user, not created yet
        ghost.get_app_user(sunshine_app.id, "ghost-" + mine)
    assert missing.value.status == 404 and v1_error(missing)["code"] == "user_not_found"


def test_an_app_user_jwt_of_another_app_is_forbidden(smooch_as, sunshine_app, emulator_server):
    other_app = secrets.token_hex(12)
    emulator_server.control.seed({"sunshine": {"apps": [{"id": other_app}]}})
    api = smooch_as(jwt=sunshine_app.jwt(scope="appUser", userId="someone"))
    with pytest.raises(ApiException) as raised:
        smooch.AppUserApi(api).get_app_user(other_app, "someone")
    assert raised.value.status == 403 and v1_error(raised)["code"] == "forbidden"


def test_an_app_user_jwt_with_a_numeric_user_id_is_invalid(sunshine_app, emulator_server):
    reply = emulator_server.get("/v1.1/appusers/42", headers=bearer(sunshine_app.jwt(scope="appUser", userId=42)))
    assert reply.status == 401 and reply.json()["error"]["code"] == "invalid_auth"


# --- /v1.1/appusers without an appId (smooch-core with app and appUser JWTs, reference 8.4) -----------------


def test_the_app_comes_from_the_key_without_an_app_id_in_the_path(sunshine_app, emulator_server):
    user_id = fresh_id()
    created = emulator_server.post(
        "/v1.1/appusers", json={"userId": user_id, "givenName": "Kid"}, headers=bearer(sunshine_app.jwt())
    )
    assert created.status == 201 and created.headers["Content-Type"] == "application/json"
    smooch_id = created.json()["appUser"]["_id"]
    assert sunshine_app.request("GET", f"users/{smooch_id}").json()["user"]["externalId"] == user_id

    basic = emulator_server.get(f"/v1.1/appusers/{user_id}", headers=sunshine_app.basic_headers())
    assert basic.status == 200 and basic.json()["appUser"]["givenName"] == "Kid"

    as_user = bearer(sunshine_app.jwt(scope="appUser", userId=user_id))
    posted = emulator_server.post(
        f"/v1.1/appusers/{user_id}/messages", json={"role": "appUser", "type": "text", "text": "kid"}, headers=as_user
    )
    assert posted.status == 201 and posted.json()["message"]["authorId"] == smooch_id
    listed = emulator_server.get(f"/v1.1/appusers/{user_id}/messages", headers=as_user)
    assert [m["text"] for m in listed.json()["messages"]] == ["kid"]
    other = emulator_server.get("/v1.1/appusers/someone-else", headers=as_user)
    assert (other.status, other.json()) == (403, {"error": {"code": "forbidden", "description": "Invalid scope"}})


def test_an_account_key_must_name_the_app(sunshine_app, emulator_server):
    for headers in (sunshine_app.basic_headers(account=True), bearer(sunshine_app.jwt(scope="account"))):
        reply = emulator_server.get("/v1.1/appusers/anyone", headers=headers)
        assert reply.status == 400 and reply.json()["error"]["code"] == "bad_request"
        created = emulator_server.post(v1_path(sunshine_app, "appusers"), json={"userId": fresh_id()}, headers=headers)
        assert created.status == 201


# --- errors in the v1 envelope -----------------------------------------------------------------------------


def test_authentication_errors_are_in_the_v1_envelope(smooch_as, sunshine_app, emulator_server):
    missing = emulator_server.get(v1_path(sunshine_app, "appusers/anyone"))
    assert (missing.status, missing.json()) == (
        401,
        {"error": {"code": "unauthorized", "description": "Authorization is required"}},
    )

    with pytest.raises(ApiException) as wrong_secret:
        smooch.AppUserApi(smooch_as(basic=(sunshine_app.key_id, sunshine_app.secret + "x"))).get_app_user(
            sunshine_app.id, "anyone"
        )
    assert wrong_secret.value.status == 401 and v1_error(wrong_secret)["code"] == "invalid_auth"

    token = sunshine_app.jwt()
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(ApiException) as bad_signature:
        smooch.AppUserApi(smooch_as(jwt=forged)).get_app_user(sunshine_app.id, "anyone")
    assert bad_signature.value.status == 401 and v1_error(bad_signature)["code"] == "invalid_auth"

    other_app = secrets.token_hex(12)
    emulator_server.control.seed({"sunshine": {"apps": [{"id": other_app}]}})
    with pytest.raises(ApiException) as another_app:
        smooch.AppUserApi(smooch_as(basic=(sunshine_app.key_id, sunshine_app.secret))).get_app_user(other_app, "anyone")
    assert another_app.value.status == 403 and v1_error(another_app)["code"] == "forbidden"

    with pytest.raises(ApiException) as unknown_app:
        smooch.AppUserApi(smooch_as(basic=(sunshine_app.account_key_id, sunshine_app.account_secret))).get_app_user(
            secrets.token_hex(12), "x"
        )
    assert unknown_app.value.status == 404 and v1_error(unknown_app) == {
        "code": "app_not_found",
        "description": "App not found",
    }


def test_body_errors_are_in_the_v1_envelope(smooch_as, sunshine_app, emulator_server):
    api = app_client(smooch_as, sunshine_app, "basic")
    user_id = fresh_id()
    smooch.AppUserApi(api).pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id))
    with pytest.raises(ApiException) as taken:
        smooch.AppUserApi(api).pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id))
    assert taken.value.status == 409 and v1_error(taken) == {"code": "conflict", "description": "User already exists"}

    headers, state = sunshine_app.basic_headers(), emulator_server.control.export_state()
    cases = [
        ("appusers", {"givenName": "no user id"}),
        ("appusers", {"userId": 42}),
        ("appusers", {"userId": fresh_id(), "properties": {"nested": {"a": 1}}}),
        (f"appusers/{user_id}/messages", {"role": "whisperer", "type": "text", "text": "x"}),
        (f"appusers/{user_id}/messages", {"role": "appUser", "type": "text"}),
        (f"appusers/{user_id}/messages", {"role": "appUser", "type": "carousel", "text": "x"}),
        (f"appusers/{user_id}/messages", []),
    ]
    for tail, body in cases:
        reply = emulator_server.post(v1_path(sunshine_app, tail), json=body, headers=headers)
        assert reply.status == 400, (tail, body, reply.text)
        assert set(reply.json()) == {"error"} and reply.json()["error"]["code"] == "bad_request"
    malformed = emulator_server.post(
        v1_path(sunshine_app, "appusers"), data=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert (malformed.status, malformed.json()["error"]["code"]) == (400, "bad_request")
    both = emulator_server.get(
        v1_path(sunshine_app, f"appusers/{user_id}/messages"), params={"before": "1", "after": "2"}, headers=headers
    )
    assert both.status == 400 and both.json()["error"]["code"] == "bad_request"
    not_a_time = emulator_server.get(
        v1_path(sunshine_app, f"appusers/{user_id}/messages"), params={"before": "nan"}, headers=headers
    )
    assert not_a_time.status == 400
    unknown_route = emulator_server.get(v1_path(sunshine_app, f"appusers/{user_id}/nothing-here"), headers=headers)
    assert unknown_route.status == 404 and set(unknown_route.json()) == {"error"}
    assert emulator_server.control.export_state() == state  # a refused first message opened no conversation


def test_an_integration_key_is_forbidden(sunshine_app, emulator_server):
    integration = sunshine_app.request(
        "POST",
        "integrations",
        json={
            "type": "custom",
            "displayName": "Bot",
            "webhooks": [{"target": "https://example.com/hook", "triggers": ["*"]}],
        },
    ).json()["integration"]
    key = sunshine_app.request("POST", f"integrations/{integration['id']}/keys", json={"displayName": "k"}).json()[
        "key"
    ]
    headers = {"Authorization": basic_auth(key["id"], key["secret"])}
    reply = emulator_server.get(v1_path(sunshine_app, "appusers/anyone"), headers=headers)
    assert reply.status == 403 and reply.json()["error"]["code"] == "forbidden"


# --- one conversation for v1.1 and v2 ----------------------------------------------------------------------


def test_a_v1_message_shows_in_v2_and_a_v2_message_in_v1(smooch_as, sunshine_app):
    api = app_client(smooch_as, sunshine_app, "basic")
    user_id = fresh_id()
    user = (
        smooch.AppUserApi(api).pre_create_app_user(sunshine_app.id, smooch.AppUserPreCreate(user_id=user_id)).app_user
    )
    conversation_api = smooch.ConversationApi(api)
    posted = conversation_api.post_message(sunshine_app.id, user_id, text("from v1", metadata={"k": "v"}))
    conversation_id = posted.conversation.id

    found = sunshine_app.request("GET", "conversations", params={"filter[userExternalId]": user_id}).json()[
        "conversations"
    ]
    assert [(c["id"], c["type"], c["isDefault"]) for c in found] == [(conversation_id, "personal", True)]
    [v2_message] = sunshine_app.request("GET", f"conversations/{conversation_id}/messages").json()["messages"]
    assert v2_message["id"] == posted.message.id and v2_message["content"] == {"type": "text", "text": "from v1"}
    assert (
        v2_message["author"]["type"] == "user"
        and v2_message["author"]["userId"] == user.id
        and v2_message["metadata"] == {"k": "v"}
    )

    business = {"author": {"type": "business", "displayName": "Agent"}, "content": {"type": "text", "text": "from v2"}}
    assert sunshine_app.request("POST", f"conversations/{conversation_id}/messages", json=business).status == 201
    listed = conversation_api.get_messages(sunshine_app.id, user.id)
    assert [(m.role, m.text, m.name) for m in listed.messages] == [
        ("appUser", "from v1", None),
        ("appMaker", "from v2", "Agent"),
    ]
    assert listed.conversation.unread_count == 1
    conversation_api.reset_unread_count(sunshine_app.id, user_id)
    assert conversation_api.get_messages(sunshine_app.id, user_id).conversation.unread_count == 0
    [participant] = sunshine_app.request("GET", f"conversations/{conversation_id}/participants").json()["participants"]
    assert participant["unreadCount"] == 0

    events = sunshine_app.handle.control.calls(method="EVENT", path="conversation:*")
    assert [e["path"] for e in events] == [
        "conversation:create",
        "conversation:message",
        "conversation:message",
        "conversation:read",
    ]
    first = json.loads(events[1]["request_body"])["payload"]
    assert (
        first["conversation"]["id"] == conversation_id and first["message"]["author"]["user"]["externalId"] == user_id
    )


def test_v1_events_reach_the_webhooks_of_the_app_named_by_the_key(
    sunshine_app, emulator_server, emulator_webhook_receiver
):
    emulator_webhook_receiver.sunshine_webhook(sunshine_app)
    user_id = fresh_id()
    emulator_server.post("/v1.1/appusers", json={"userId": user_id}, headers=bearer(sunshine_app.jwt()))
    as_user = bearer(sunshine_app.jwt(scope="appUser", userId=user_id))
    posted = emulator_server.post(
        f"/v1.1/appusers/{user_id}/messages",
        json={"role": "appUser", "type": "text", "text": "hooked"},
        headers=as_user,
    )
    assert posted.status == 201
    emulator_server.control.flush_deliveries()
    events = emulator_webhook_receiver.events()
    assert [e["type"] for e in events] == ["conversation:create", "conversation:message"]
    assert events[1]["payload"]["message"]["id"] == posted.json()["message"]["_id"]
    assert events[1]["payload"]["message"]["content"] == {"type": "text", "text": "hooked"}


def test_rich_v2_messages_read_through_the_smooch_models(smooch_as, sunshine_conversation):
    app, user = sunshine_conversation.user.app, sunshine_conversation.user
    link = {"type": "link", "text": "Open", "uri": "https://example.com", "metadata": None}
    contents = [
        {"type": "text", "text": "pick one", "actions": [link, {"type": "reply", "text": "Yes", "payload": "YES"}]},
        {"type": "image", "mediaUrl": "https://example.com/cat.png", "altText": "a cat"},
        {"type": "carousel", "items": [{"title": "First", "description": None, "actions": [link]}]},
        {
            "type": "location",
            "coordinates": {"lat": 45.5, "long": -73.6},
            "location": {"address": "Montreal", "name": None},
        },
    ]
    for content in contents:
        reply = app.request(
            "POST",
            f"conversations/{sunshine_conversation.id}/messages",
            json={"author": {"type": "business"}, "content": content},
        )
        assert reply.status == 201, reply.text
    listed = smooch.ConversationApi(app_client(smooch_as, app, "basic")).get_messages(app.id, user.external_id)
    assert [m.type for m in listed.messages] == ["text", "image", "carousel", "location"]
    text_message, image, carousel, location = listed.messages
    assert [(a.type, a.text) for a in text_message.actions] == [("link", "Open"), ("reply", "Yes")]
    assert (image.media_url, image.alt_text) == ("https://example.com/cat.png", "a cat")
    assert carousel.items[0].title == "First" and carousel.items[0].actions[0].uri == "https://example.com"
    assert (location.coordinates.lat, location.location.address) == (45.5, "Montreal")


def test_a_user_created_in_v2_with_a_conversation_is_reused_by_v1(smooch_as, sunshine_conversation):
    app = sunshine_conversation.user.app
    api = app_client(smooch_as, app, "jwt")
    posted = smooch.ConversationApi(api).post_message(
        app.id, sunshine_conversation.user.external_id, text("into v2's conversation")
    )
    assert posted.conversation.id == sunshine_conversation.id
    assert (
        smooch.AppUserApi(api).get_app_user(app.id, sunshine_conversation.user.id).app_user.conversation_started is True
    )


# --- paging on received times ------------------------------------------------------------------------------


def test_before_and_after_page_on_numeric_received_times(smooch_as, emulator_server):
    app_id, user_id, conversation_id = secrets.token_hex(12), secrets.token_hex(12), secrets.token_hex(12)
    key_id, secret, base = (
        f"app_{secrets.token_hex(8)}",
        secrets.token_urlsafe(18),
        1_767_225_600,
    )  # 2026-01-01T00:00:00Z
    history = [
        {
            "received": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z",
            "author": {"type": "business"},
            "content": {"type": "text", "text": f"m{n}"},
            "source": {"type": "api:conversations"},
        }
        for n in range(130)
    ]
    conversation = {
        "id": conversation_id,
        "type": "personal",
        "isDefault": True,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "lastUpdatedAt": "2026-01-01T00:02:09.000Z",
        "participants": [{"userId": user_id, "userExternalId": "pager"}],
        "messages": history,
    }
    user = {"id": user_id, "externalId": "pager", "conversations": [conversation_id]}
    app = {"id": app_id, "keys": [{"id": key_id, "secret": secret}], "users": [user], "conversations": [conversation]}
    emulator_server.control.seed({"sunshine": {"apps": [app]}})
    conversation_api = smooch.ConversationApi(smooch_as(basic=(key_id, secret)))

    latest = conversation_api.get_messages(app_id, "pager")
    assert [m.text for m in latest.messages] == [f"m{n}" for n in range(30, 130)]
    assert latest.messages[0].received == base + 30.0 and latest.next is None
    raw = emulator_server.get(
        f"/v1.1/apps/{app_id}/appusers/pager/messages", headers={"Authorization": basic_auth(key_id, secret)}
    ).json()
    assert raw["previous"].endswith(f"/v1.1/apps/{app_id}/appusers/pager/messages?before={base + 30.0!r}")

    older = conversation_api.get_messages(app_id, "pager", before=str(base + 30.0))
    assert [m.text for m in older.messages] == [f"m{n}" for n in range(30)] and older.next.endswith(
        f"after={base + 29.0!r}"
    )
    newer = conversation_api.get_messages(app_id, "pager", after=str(base + 9.5))
    assert [m.text for m in newer.messages] == [f"m{n}" for n in range(10, 110)] and newer.next.endswith(
        f"after={base + 109.0!r}"
    )
    assert conversation_api.get_messages(app_id, "pager", after=str(base + 200)).messages == []


# --- nasty input: never a 5xx, always the v1 envelope, nothing changed by a refusal ---------------------------

V1_ROUTES = [
    ("POST", "appusers"),
    ("GET", "appusers/{user}"),
    ("PUT", "appusers/{user}"),
    ("DELETE", "appusers/{user}/profile"),
    ("POST", "appusers/{user}/messages"),
    ("GET", "appusers/{user}/messages"),
    ("DELETE", "appusers/{user}/messages/{user}"),
    ("POST", "appusers/{user}/conversation/read"),
]
NASTY_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"{",
    b'{"userId": NaN}',
    b'{"properties": {"a": Infinity}}',
    b"[" * 5000,
    b'{"userId": "' + b"x" * 120_000 + b'"}',
    b'{"userId": "\\ud800"}',
    b'{"role": "appUser", "type": "text", "text": 1}',
    b'{"role": "appUser", "type": "text", "text": "' + b"y" * 5000 + b'"}',
    b'{"userId": "u", "properties": []}',
    b'{"role": "appUser", "type": "image", "mediaUrl": ""}',
    b'{"givenName": null, "properties": null, "userId": null}',
]
NASTY_SEGMENTS = ["%00", "%2F", "%25", "..", "%E9", "a" * 2000, "%F0%9F%92%A9", "null"]


def test_nasty_requests_are_refused_in_the_v1_envelope_without_changing_anything(sunshine_app, emulator_server):
    headers = {**sunshine_app.basic_headers(), "Content-Type": "application/json"}
    user_id = fresh_id()
    assert (
        emulator_server.post(v1_path(sunshine_app, "appusers"), json={"userId": user_id}, headers=headers).status == 201
    )
    state = emulator_server.control.export_state()
    for method, template in V1_ROUTES:
        for segment in [user_id, *NASTY_SEGMENTS]:
            path = v1_path(sunshine_app, template.format(user=segment))
            for body in NASTY_BODIES if method in ("POST", "PUT") else [b""]:
                reply = emulator_server.request(method, path, data=body, headers=headers, params={"after": "1e999"})
                assert reply.status < 500, (method, path, body[:80], reply.status, reply.text[:200])
                assert reply.headers["Content-Type"] == "application/json"
                if reply.status >= 400:
                    assert set(reply.json()) == {"error"} and set(reply.json()["error"]) == {"code", "description"}, (
                        reply.text
                    )
                else:  # a read, the profile wipe of a user with no profile, marking read a user with no conversation
                    idempotent = ("appusers/{user}", "appusers/{user}/profile", "appusers/{user}/conversation/read")
                    assert segment == user_id and template in idempotent, (method, path, body[:80])
    assert emulator_server.control.export_state() == state
