"""Sunshine Conversations v2: conversation, participant, message and activity rules, with exact statuses and
bodies (reference sections 2.1-2.3 and "What the emulator must get right" 4, 5, 7, 10).

Everything runs in-process against the test's namespace, its clock frozen at T0. Limits (participants,
messages per conversation) are lowered through the control API so that a test reaches them in a few calls.
Events the provider would announce by webhook are journal entries with method `EVENT` and the event type as
their path.
"""

from __future__ import annotations

import json
import secrets

import pytest

T0 = "2026-03-01T00:00:00.000Z"
LATER = "2026-03-01T00:05:00.000Z"

pytestmark = pytest.mark.emulator_time(T0)


# --- helpers ---------------------------------------------------------------------------------------------


def assert_error(reply, status, code, title=None):
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    errors = reply.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"] == code, errors
    if title is not None:
        assert errors[0]["title"] == title
    return errors[0]


def created(reply, wrapper):
    assert reply.status == 201, reply.text
    return reply.json()[wrapper]


def new_user(app, external_id=None):
    body = {"externalId": external_id or f"ext-{secrets.token_hex(5)}"}
    return created(app.request("POST", "users", json=body), "user")


def new_conversation(app, kind="personal", *users, subscribe=False, **fields):
    participants = [{"userId": u["id"], "subscribeSDKClient": subscribe} for u in users]
    body = {"type": kind, **({"participants": participants} if users else {}), **fields}
    return created(app.request("POST", "conversations", json=body), "conversation")


def text(value="hi", **author):
    return {"author": author or {"type": "business"}, "content": {"type": "text", "text": value}}


def post(app, conversation_id, body):
    return app.request("POST", f"conversations/{conversation_id}/messages", json=body)


def lower_limits(emulator, app, **limits):
    return emulator.control.set_ttl(provider="sunshine", app=app.id, **limits)


def events(emulator, event_type):
    return [json.loads(entry["request_body"]) for entry in emulator.control.journal(method="EVENT", path=event_type)]


# --- creating conversations ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 2], ids=["none", "two"])
def test_a_personal_conversation_needs_exactly_one_participant(emulator, sunshine_app, count):
    users = [new_user(sunshine_app) for _ in range(count)]
    body = {"type": "personal", "participants": [{"userId": u["id"]} for u in users]}
    reply = sunshine_app.request("POST", "conversations", json=body)
    # [I] the title; the rule and the status are the spec's
    assert_error(reply, 400, "bad_request", "personal conversations must have exactly one participant")


def test_a_personal_conversation_without_participants_field_is_refused(emulator, sunshine_app):
    reply = sunshine_app.request("POST", "conversations", json={"type": "personal"})
    assert_error(reply, 400, "bad_request", "personal conversations must have exactly one participant")


def test_the_first_personal_conversation_is_the_default_and_later_ones_are_not(emulator, sunshine_app):
    user = new_user(sunshine_app)
    first = new_conversation(sunshine_app, "personal", user)
    second = new_conversation(sunshine_app, "personal", user)
    group = new_conversation(sunshine_app, "sdkGroup", user)
    assert (first["isDefault"], second["isDefault"], group["isDefault"]) == (True, False, False)
    fetched = sunshine_app.request("GET", f"conversations/{first['id']}")
    assert fetched.status == 200 and fetched.json()["conversation"]["isDefault"] is True
    assert first["type"] == "personal" and group["type"] == "sdkGroup"
    assert first["createdAt"] == first["lastUpdatedAt"] == T0


def test_a_group_first_does_not_take_the_default_from_the_first_personal_conversation(emulator, sunshine_app):
    user = new_user(sunshine_app)
    new_conversation(sunshine_app, "sdkGroup", user)
    assert new_conversation(sunshine_app, "personal", user)["isDefault"] is True


def test_the_default_is_per_user(emulator, sunshine_app):
    ada, bob = new_user(sunshine_app), new_user(sunshine_app)
    new_conversation(sunshine_app, "personal", ada)
    assert new_conversation(sunshine_app, "personal", bob)["isDefault"] is True


def test_a_conversation_answers_the_spec_shape_with_nulls_not_empty_strings(emulator, sunshine_app):
    user = new_user(sunshine_app)
    conversation = new_conversation(sunshine_app, "personal", user)
    assert set(conversation) >= {
        "id",
        "type",
        "isDefault",
        "displayName",
        "description",
        "iconUrl",
        "metadata",
        "businessLastRead",
        "createdAt",
        "lastUpdatedAt",
    }
    assert conversation["displayName"] is None and conversation["businessLastRead"] is None
    assert len(conversation["id"]) == 24 and int(conversation["id"], 16) >= 0
    assert "participants" not in conversation and "messages" not in conversation


def test_an_unknown_participant_is_404_user_not_found(emulator, sunshine_app):
    body = {"type": "personal", "participants": [{"userId": secrets.token_hex(12)}]}
    reply = sunshine_app.request("POST", "conversations", json=body)
    assert reply.json() == {"errors": [{"code": "user_not_found", "title": "User not found"}]}
    assert reply.status == 404


def test_a_participant_by_external_id(emulator, sunshine_app):
    user = new_user(sunshine_app, "ext/with space@x")
    body = {"type": "personal", "participants": [{"userExternalId": "ext/with space@x"}]}
    conversation = created(sunshine_app.request("POST", "conversations", json=body), "conversation")
    listed = sunshine_app.request("GET", f"conversations/{conversation['id']}/participants").json()["participants"]
    assert [(p["userId"], p["userExternalId"]) for p in listed] == [(user["id"], "ext/with space@x")]


# --- deleting ---------------------------------------------------------------------------------------------


def test_the_default_conversation_cannot_be_deleted(emulator, sunshine_app, sunshine_conversation):
    reply = sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}")
    assert reply.status == 400
    title = f"Conversation {sunshine_conversation.id} cannot be deleted because it is the default."
    assert reply.json() == {"errors": [{"code": "bad_request", "title": title}]}
    assert sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").status == 200
    assert events(emulator, "conversation:remove") == []


def test_a_later_conversation_deletes_with_an_empty_object(emulator, sunshine_app, sunshine_conversation):
    user = {"id": sunshine_conversation.user.id}
    second = new_conversation(sunshine_app, "personal", user)
    reply = sunshine_app.request("DELETE", f"conversations/{second['id']}")
    assert (reply.status, reply.json()) == (200, {})
    gone = sunshine_app.request("GET", f"conversations/{second['id']}")
    assert gone.status == 404 and gone.json() == {
        "errors": [{"code": "conversation_not_found", "title": "Conversation not found"}]
    }
    listed = sunshine_app.request("GET", "conversations", params={"filter[userId]": user["id"]}).json()["conversations"]
    assert [c["id"] for c in listed] == [sunshine_conversation.id]
    [removed] = events(emulator, "conversation:remove")
    assert removed["payload"]["conversation"]["id"] == second["id"]


def test_deleting_an_unknown_conversation_is_404(emulator, sunshine_app):
    reply = sunshine_app.request("DELETE", f"conversations/{secrets.token_hex(12)}")
    assert_error(reply, 404, "conversation_not_found", "Conversation not found")


# --- sdkGroup participants ------------------------------------------------------------------------------


def test_an_sdk_group_may_start_without_participants(emulator, sunshine_app):
    group = new_conversation(sunshine_app, "sdkGroup", displayName="Team")
    assert group["displayName"] == "Team" and group["isDefault"] is False
    listed = sunshine_app.request("GET", f"conversations/{group['id']}/participants")
    assert listed.status == 200 and listed.json()["participants"] == []


def test_an_sdk_group_takes_ten_participants(emulator, sunshine_app):
    users = [new_user(sunshine_app) for _ in range(10)]
    group = new_conversation(sunshine_app, "sdkGroup", *users)
    listed = sunshine_app.request("GET", f"conversations/{group['id']}/participants", params={"page[size]": "100"})
    assert [p["userId"] for p in listed.json()["participants"]] == [u["id"] for u in users]


def test_eleven_participants_fail_the_body_schema(emulator, sunshine_app):
    users = [new_user(sunshine_app) for _ in range(11)]
    body = {"type": "sdkGroup", "participants": [{"userId": u["id"], "subscribeSDKClient": False} for u in users]}
    reply = sunshine_app.request("POST", "conversations", json=body)
    # [C] maxItems 10 in the schema; the title is the validator's
    assert_error(reply, 400, "bad_request", ".participants should NOT have more than 10 items")


def test_a_lowered_participant_limit_gives_too_many_participants(emulator, sunshine_app):
    assert lower_limits(emulator, sunshine_app, participants=2)["participants"] == 2
    users = [new_user(sunshine_app) for _ in range(3)]
    body = {"type": "sdkGroup", "participants": [{"userId": u["id"], "subscribeSDKClient": False} for u in users]}
    reply = sunshine_app.request("POST", "conversations", json=body)
    assert reply.status == 400
    assert reply.json() == {"errors": [{"code": "bad_request", "title": "Too many participants"}]}
    assert events(emulator, "conversation:create") == []


def test_joining_a_full_group_is_too_many_participants(emulator, sunshine_app):
    lower_limits(emulator, sunshine_app, participants=2)
    ada, bob, cy = (new_user(sunshine_app) for _ in range(3))
    group = new_conversation(sunshine_app, "sdkGroup", ada, bob)
    reply = sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": cy["id"], "subscribeSDKClient": False}
    )
    assert (reply.status, reply.json()) == (
        400,
        {"errors": [{"code": "bad_request", "title": "Too many participants"}]},
    )
    assert events(emulator, "conversation:join") == []


def test_an_sdk_group_participant_needs_subscribe_sdk_client(emulator, sunshine_app):
    user = new_user(sunshine_app)
    reply = sunshine_app.request(
        "POST", "conversations", json={"type": "sdkGroup", "participants": [{"userId": user["id"]}]}
    )
    assert_error(reply, 400, "bad_request", ".participants should have required property 'subscribeSDKClient'")


def test_the_participant_limit_cannot_be_raised_past_ten(emulator, sunshine_app):
    from emulator.client import EmulatorError

    with pytest.raises(EmulatorError) as refused:
        lower_limits(emulator, sunshine_app, participants=11)
    assert refused.value.status == 400


# --- join and leave --------------------------------------------------------------------------------------


def test_join_adds_a_participant_with_201(emulator, sunshine_app):
    owner, joiner = new_user(sunshine_app), new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", owner)
    reply = sunshine_app.request(
        "POST",
        f"conversations/{group['id']}/join",
        json={"userExternalId": joiner["externalId"], "subscribeSDKClient": True},
    )
    assert reply.status == 201 and set(reply.json()) == {"participant"}
    participant = reply.json()["participant"]
    assert (
        participant["userId"],
        participant["userExternalId"],
        participant["unreadCount"],
        participant["lastRead"],
    ) == (
        joiner["id"],
        joiner["externalId"],
        0,
        None,
    )
    assert [a["type"] for a in participant["clientAssociations"]] == ["sdk"]  # subscribeSDKClient made an sdk client
    assert len(participant["id"]) == 24
    listed = sunshine_app.request("GET", f"conversations/{group['id']}/participants").json()["participants"]
    assert [p["userId"] for p in listed] == [owner["id"], joiner["id"]]
    mine = sunshine_app.request("GET", "conversations", params={"filter[userId]": joiner["id"]}).json()["conversations"]
    assert [c["id"] for c in mine] == [group["id"]]
    [joined] = events(emulator, "conversation:join")
    assert joined["payload"]["conversation"]["id"] == group["id"] and joined["payload"]["user"]["id"] == joiner["id"]


def test_join_without_subscribing_has_no_sdk_association(emulator, sunshine_app):
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup")
    reply = sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": user["id"], "subscribeSDKClient": False}
    )
    assert reply.status == 201 and reply.json()["participant"]["clientAssociations"] == []


def test_join_is_only_for_sdk_groups(emulator, sunshine_app, sunshine_conversation):
    other = new_user(sunshine_app)
    reply = sunshine_app.request(
        "POST",
        f"conversations/{sunshine_conversation.id}/join",
        json={"userId": other["id"], "subscribeSDKClient": False},
    )
    assert_error(reply, 400, "bad_request", "Only sdkGroup conversations can be joined")  # [I] title
    assert events(emulator, "conversation:join") == []


def test_join_needs_subscribe_sdk_client(emulator, sunshine_app):
    """[C] `subscribeSDKClient` "is required if the conversation is of type sdkGroup", and only sdkGroups are joined."""
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup")
    reply = sunshine_app.request("POST", f"conversations/{group['id']}/join", json={"userId": user["id"]})
    assert_error(reply, 400, "bad_request", "should have required property 'subscribeSDKClient'")


def test_join_twice_is_refused(emulator, sunshine_app):
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", user)
    reply = sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": user["id"], "subscribeSDKClient": False}
    )
    assert_error(reply, 400, "bad_request", "User is already a participant of the conversation")  # [I]


def test_join_an_unknown_conversation_or_user_is_404(emulator, sunshine_app):
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup")
    missing = sunshine_app.request(
        "POST", f"conversations/{secrets.token_hex(12)}/join", json={"userId": user["id"], "subscribeSDKClient": False}
    )
    assert_error(missing, 404, "conversation_not_found", "Conversation not found")
    stranger = sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": secrets.token_hex(12), "subscribeSDKClient": False}
    )
    assert_error(stranger, 404, "user_not_found", "User not found")


@pytest.mark.parametrize("how", ["userId", "userExternalId", "participantId"])
def test_leave_answers_an_empty_object_then_404_not_a_member(emulator, sunshine_app, how):
    stays, leaves = new_user(sunshine_app), new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", stays, leaves)
    participants = sunshine_app.request("GET", f"conversations/{group['id']}/participants").json()["participants"]
    participant_id = next(p["id"] for p in participants if p["userId"] == leaves["id"])
    body = {"userId": leaves["id"], "userExternalId": leaves["externalId"], "participantId": participant_id}
    first = sunshine_app.request("POST", f"conversations/{group['id']}/leave", json={how: body[how]})
    assert (first.status, first.json()) == (200, {})
    again = sunshine_app.request("POST", f"conversations/{group['id']}/leave", json={how: body[how]})
    assert again.status == 404
    assert again.json() == {"errors": [{"code": "not_found", "title": "User is not a member of the conversation"}]}
    left = sunshine_app.request("GET", f"conversations/{group['id']}/participants").json()["participants"]
    assert [p["userId"] for p in left] == [stays["id"]]
    assert (
        sunshine_app.request("GET", "conversations", params={"filter[userId]": leaves["id"]}).json()["conversations"]
        == []
    )
    [event] = events(emulator, "conversation:leave")
    assert event["payload"]["conversation"]["id"] == group["id"] and event["payload"]["user"]["id"] == leaves["id"]


def test_a_user_who_never_joined_is_not_a_member(emulator, sunshine_app):
    member, outsider = new_user(sunshine_app), new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", member)
    reply = sunshine_app.request("POST", f"conversations/{group['id']}/leave", json={"userId": outsider["id"]})
    assert_error(reply, 404, "not_found", "User is not a member of the conversation")


def test_leaving_a_personal_conversation_is_refused(emulator, sunshine_app, sunshine_conversation):
    reply = sunshine_app.request(
        "POST", f"conversations/{sunshine_conversation.id}/leave", json={"userId": sunshine_conversation.user.id}
    )
    assert_error(reply, 400, "bad_request", "Only sdkGroup conversations can be left")  # [I]


def test_leave_with_two_references_is_a_bad_request(emulator, sunshine_app):
    user = new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", user)
    reply = sunshine_app.request(
        "POST", f"conversations/{group['id']}/leave", json={"userId": user["id"], "userExternalId": user["externalId"]}
    )
    assert_error(reply, 400, "bad_request")


# --- listing a user's conversations ---------------------------------------------------------------------


def test_list_conversations_needs_a_user_filter(emulator, sunshine_app):
    reply = sunshine_app.request("GET", "conversations")
    assert_error(
        reply, 400, "bad_request", "Exactly one of filter[userId] or filter[userExternalId] is required"
    )  # [I] title


def test_list_conversations_refuses_both_filters(emulator, sunshine_app, sunshine_user):
    params = {"filter[userId]": sunshine_user.id, "filter[userExternalId]": sunshine_user.external_id}
    assert_error(sunshine_app.request("GET", "conversations", params=params), 400, "bad_request")


@pytest.mark.parametrize("key", ["userId", "userExternalId"])
def test_list_conversations_of_an_unknown_user_is_404_user_not_found(emulator, sunshine_app, key):
    reply = sunshine_app.request("GET", "conversations", params={f"filter[{key}]": secrets.token_hex(12)})
    assert reply.status == 404
    assert reply.json() == {"errors": [{"code": "user_not_found", "title": "User not found"}]}


def test_list_conversations_by_external_id_includes_groups(emulator, sunshine_app, sunshine_conversation):
    user = {"id": sunshine_conversation.user.id}
    group = new_conversation(sunshine_app, "sdkGroup", user)
    reply = sunshine_app.request(
        "GET", "conversations", params={"filter[userExternalId]": sunshine_conversation.user.external_id}
    )
    assert reply.status == 200
    assert [c["id"] for c in reply.json()["conversations"]] == [sunshine_conversation.id, group["id"]]
    assert reply.json()["meta"] == {"hasMore": False} and reply.json()["links"] == {}


# --- posting messages -----------------------------------------------------------------------------------


def test_a_business_message_is_201_with_a_messages_array(emulator, sunshine_app, sunshine_conversation):
    reply = post(sunshine_app, sunshine_conversation.id, text("Hello!"))
    assert reply.status == 201 and set(reply.json()) == {"messages"}
    [message] = reply.json()["messages"]
    assert message["author"] == {"type": "business"}
    assert message["content"] == {"type": "text", "text": "Hello!"}
    assert message["source"] == {"type": "api:conversations"}
    assert message["received"] == T0 and message["deleted"] is False and len(message["id"]) == 24


def test_a_user_message_names_its_author_by_id(emulator, sunshine_app, sunshine_conversation):
    user = sunshine_conversation.user
    reply = post(
        sunshine_app,
        sunshine_conversation.id,
        text("from the user", type="user", userExternalId=user.external_id, displayName="Ada"),
    )
    [message] = created(reply, "messages")
    assert message["author"] == {"type": "user", "userId": user.id, "displayName": "Ada"}
    assert message["content"]["type"] == "text" and message["source"]["type"] == "api:conversations"


def test_every_content_type_comes_back_with_its_type(emulator, sunshine_app, sunshine_conversation):
    contents = [
        {"type": "image", "mediaUrl": "https://example.com/a.png"},
        {"type": "file", "mediaUrl": "https://example.com/a.pdf"},
        {"type": "location", "coordinates": {"lat": 45.5, "long": -73.6}},
        {"type": "text", "text": "t", "actions": [{"type": "link", "text": "go", "uri": "https://example.com"}]},
    ]
    for content in contents:
        [message] = created(
            post(sunshine_app, sunshine_conversation.id, {"author": {"type": "business"}, "content": content}),
            "messages",
        )
        assert message["content"] == content
    listed = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}/messages").json()["messages"]
    assert all(m["author"]["type"] and m["content"]["type"] and m["source"]["type"] for m in listed)
    assert [m["content"]["type"] for m in listed] == ["image", "file", "location", "text"]


def test_a_message_moves_last_updated_at_but_not_created_at(emulator, sunshine_app, sunshine_conversation):
    emulator.control.set_time(LATER)
    [message] = created(post(sunshine_app, sunshine_conversation.id, text("later")), "messages")
    assert message["received"] == LATER
    conversation = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").json()["conversation"]
    assert (conversation["createdAt"], conversation["lastUpdatedAt"]) == (T0, LATER)


def test_unread_counts_in_a_group(emulator, sunshine_app):
    """Each message is unread for every participant but its author, who has read up to it."""
    ada, bob = new_user(sunshine_app), new_user(sunshine_app)
    group = new_conversation(sunshine_app, "sdkGroup", ada, bob)
    post(sunshine_app, group["id"], text("from the business"))
    emulator.control.set_time(LATER)
    post(sunshine_app, group["id"], text("from ada", type="user", userId=ada["id"]))
    listed = sunshine_app.request("GET", f"conversations/{group['id']}/participants").json()["participants"]
    counts = {p["userId"]: (p["unreadCount"], p["lastRead"]) for p in listed}
    assert counts == {ada["id"]: (0, LATER), bob["id"]: (2, None)}


def test_a_user_author_must_be_a_participant(emulator, sunshine_app, sunshine_conversation):
    outsider = new_user(sunshine_app)
    reply = post(sunshine_app, sunshine_conversation.id, text(type="user", userId=outsider["id"]))
    assert_error(reply, 400, "bad_request", "User is not a participant of the conversation")  # [I]
    unknown = post(sunshine_app, sunshine_conversation.id, text(type="user", userId=secrets.token_hex(12)))
    assert_error(unknown, 404, "user_not_found", "User not found")
    assert events(emulator, "conversation:message") == []


def test_a_user_author_needs_a_user_reference(emulator, sunshine_app, sunshine_conversation):
    assert_error(post(sunshine_app, sunshine_conversation.id, text(type="user")), 400, "bad_request")


def test_posting_to_an_unknown_conversation_is_404(emulator, sunshine_app):
    assert_error(
        post(sunshine_app, secrets.token_hex(12), text()), 404, "conversation_not_found", "Conversation not found"
    )


def test_the_message_limit_locks_the_conversation_with_423(emulator, sunshine_app, sunshine_conversation):
    assert lower_limits(emulator, sunshine_app, messages_per_conversation=3)["messages_per_conversation"] == 3
    for n in range(3):
        assert post(sunshine_app, sunshine_conversation.id, text(f"m{n}")).status == 201
    reply = post(sunshine_app, sunshine_conversation.id, text("one too many"))
    assert reply.status == 423
    assert reply.json() == {"errors": [{"code": "locked", "title": "Message limit of 3 per conversation reached."}]}
    assert len(events(emulator, "conversation:message")) == 3
    # another conversation of the app has its own count
    other = new_conversation(sunshine_app, "personal", {"id": sunshine_conversation.user.id})
    assert post(sunshine_app, other["id"], text()).status == 201
    # [C] deleting all messages makes room
    assert sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}/messages").status == 200
    assert post(sunshine_app, sunshine_conversation.id, text("room again")).status == 201


def test_the_default_message_limit_is_the_providers(emulator, sunshine_app):
    assert lower_limits(emulator, sunshine_app)["messages_per_conversation"] == 30_000


# --- listing messages -------------------------------------------------------------------------------------


@pytest.fixture
def long_history(emulator, sunshine_app, sunshine_conversation):
    """250 business messages m0..m249, oldest first, with their ids."""
    ids = []
    for n in range(250):
        ids.append(created(post(sunshine_app, sunshine_conversation.id, text(f"m{n}")), "messages")[0]["id"])
    return ids


def test_messages_list_the_newest_page_first_and_page_backwards(
    emulator, sunshine_app, sunshine_conversation, long_history
):
    path = f"conversations/{sunshine_conversation.id}/messages"
    newest = sunshine_app.request("GET", path).json()
    assert [m["content"]["text"] for m in newest["messages"]] == [f"m{n}" for n in range(150, 250)]
    assert newest["meta"] == {"hasMore": True, "beforeCursor": long_history[150]}
    assert set(newest["links"]) == {"prev"} and newest["links"]["prev"].endswith(
        f"/messages?page%5Bbefore%5D={long_history[150]}"
    )

    middle = sunshine_app.request("GET", path, params={"page[before]": newest["meta"]["beforeCursor"]}).json()
    assert [m["id"] for m in middle["messages"]] == long_history[50:150]
    assert middle["meta"] == {"hasMore": True, "beforeCursor": long_history[50], "afterCursor": long_history[149]}
    assert set(middle["links"]) == {"prev", "next"}

    oldest = sunshine_app.request("GET", path, params={"page[before]": middle["meta"]["beforeCursor"]}).json()
    assert [m["id"] for m in oldest["messages"]] == long_history[:50]
    assert oldest["meta"] == {"hasMore": False, "afterCursor": long_history[49]}
    assert set(oldest["links"]) == {"next"}

    forward = sunshine_app.request("GET", path, params={"page[after]": oldest["meta"]["afterCursor"]}).json()
    assert [m["id"] for m in forward["messages"]] == long_history[50:150]
    assert forward["meta"]["hasMore"] is True


def test_page_size_does_not_apply_to_messages(emulator, sunshine_app, sunshine_conversation, long_history):
    reply = sunshine_app.request(
        "GET", f"conversations/{sunshine_conversation.id}/messages", params={"page[size]": "10"}
    )
    assert reply.status == 200 and len(reply.json()["messages"]) == 100
    assert "size" not in reply.json()["links"]["prev"]


def test_the_prev_link_of_messages_is_followable(emulator, sunshine_app, sunshine_conversation, long_history):
    prev = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}/messages").json()["links"]["prev"]
    path = prev.split("://", 1)[1].split("/", 1)[1]
    page = emulator.request("GET", "/" + path, headers=sunshine_app.basic_headers()).json()
    assert [m["id"] for m in page["messages"]] == long_history[50:150]


def test_a_short_history_is_one_page_without_links(emulator, sunshine_app, sunshine_conversation):
    post(sunshine_app, sunshine_conversation.id, text("only"))
    listed = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}/messages").json()
    assert [m["content"]["text"] for m in listed["messages"]] == ["only"]
    assert listed["meta"] == {"hasMore": False} and listed["links"] == {}


def test_messages_of_an_unknown_conversation_are_404_resource_not_found(emulator, sunshine_app):
    reply = sunshine_app.request("GET", f"conversations/{secrets.token_hex(12)}/messages")
    assert reply.status == 404
    assert reply.json() == {"errors": [{"code": "not_found", "title": "Resource not found"}]}  # [C] the spec's example


# --- deleting messages -----------------------------------------------------------------------------------


def test_delete_one_message(emulator, sunshine_app, sunshine_conversation):
    kept, dropped = (
        created(post(sunshine_app, sunshine_conversation.id, text(t)), "messages")[0] for t in ("keep", "drop")
    )
    reply = sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}/messages/{dropped['id']}")
    assert (reply.status, reply.json()) == (200, {})
    listed = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}/messages").json()["messages"]
    assert [m["id"] for m in listed] == [kept["id"]]
    again = sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}/messages/{dropped['id']}")
    assert_error(again, 404, "not_found", "Resource not found")


def test_delete_all_messages(emulator, sunshine_app, sunshine_conversation):
    for n in range(3):
        post(sunshine_app, sunshine_conversation.id, text(f"m{n}"))
    reply = sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}/messages")
    assert (reply.status, reply.json()) == (200, {})
    assert sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}/messages").json()["messages"] == []
    assert sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").status == 200


@pytest.mark.parametrize("tail", ["messages", f"messages/{'0' * 24}"])
def test_deleting_messages_of_an_unknown_conversation_is_404(emulator, sunshine_app, tail):
    reply = sunshine_app.request("DELETE", f"conversations/{secrets.token_hex(12)}/{tail}")
    assert_error(reply, 404, "conversation_not_found", "Conversation not found")


# --- activity ---------------------------------------------------------------------------------------------


def activity(app, conversation_id, kind, **author):
    return app.request(
        "POST",
        f"conversations/{conversation_id}/activity",
        json={"type": kind, "author": author or {"type": "business"}},
    )


def test_business_read_sets_business_last_read(emulator, sunshine_app, sunshine_conversation):
    emulator.control.set_time(LATER)
    reply = activity(sunshine_app, sunshine_conversation.id, "conversation:read")
    assert (reply.status, reply.json()) == (200, {})
    conversation = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").json()["conversation"]
    assert conversation["businessLastRead"] == LATER


def test_business_typing_changes_nothing(emulator, sunshine_app, sunshine_conversation):
    for kind in ("typing:start", "typing:stop"):
        assert activity(sunshine_app, sunshine_conversation.id, kind).status == 200
    conversation = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").json()["conversation"]
    assert conversation["businessLastRead"] is None


def test_a_user_read_clears_its_unread_count(emulator, sunshine_app, sunshine_conversation):
    user = sunshine_conversation.user
    for n in range(2):
        post(sunshine_app, sunshine_conversation.id, text(f"m{n}"))
    participants_path = f"conversations/{sunshine_conversation.id}/participants"
    [before] = sunshine_app.request("GET", participants_path).json()["participants"]
    assert (before["unreadCount"], before["lastRead"]) == (2, None)
    emulator.control.set_time(LATER)
    assert (
        activity(sunshine_app, sunshine_conversation.id, "conversation:read", type="user", userId=user.id).status == 200
    )
    [after] = sunshine_app.request("GET", participants_path).json()["participants"]
    assert (after["unreadCount"], after["lastRead"]) == (0, LATER)
    conversation = sunshine_app.request("GET", f"conversations/{sunshine_conversation.id}").json()["conversation"]
    assert conversation["businessLastRead"] is None


@pytest.mark.parametrize("kind", ["typing:start", "typing:stop"])
def test_a_user_author_may_only_send_conversation_read(emulator, sunshine_app, sunshine_conversation, kind):
    reply = activity(sunshine_app, sunshine_conversation.id, kind, type="user", userId=sunshine_conversation.user.id)
    assert_error(reply, 400, "bad_request", "a user author may only send conversation:read")  # [I] title


def test_an_unknown_activity_type_is_a_bad_request(emulator, sunshine_app, sunshine_conversation):
    assert_error(activity(sunshine_app, sunshine_conversation.id, "conversation:write"), 400, "bad_request")


def test_a_user_read_by_an_outsider_is_refused(emulator, sunshine_app, sunshine_conversation):
    outsider = new_user(sunshine_app)
    reply = activity(sunshine_app, sunshine_conversation.id, "conversation:read", type="user", userId=outsider["id"])
    assert_error(reply, 400, "bad_request", "User is not a participant of the conversation")


# --- events -------------------------------------------------------------------------------------------------


def test_events_of_a_conversation_life_are_journaled(emulator, sunshine_app):
    ada, bob = new_user(sunshine_app), new_user(sunshine_app)
    personal = new_conversation(sunshine_app, "personal", ada)
    group = new_conversation(sunshine_app, "sdkGroup", ada)
    post(sunshine_app, personal["id"], text("business says hi"))
    post(sunshine_app, personal["id"], text("user says hi", type="user", userId=ada["id"]))
    sunshine_app.request(
        "POST", f"conversations/{group['id']}/join", json={"userId": bob["id"], "subscribeSDKClient": False}
    )
    sunshine_app.request("POST", f"conversations/{group['id']}/leave", json={"userId": bob["id"]})
    assert sunshine_app.request("DELETE", f"conversations/{group['id']}").status == 200

    entries = emulator.control.journal(method="EVENT")
    assert [e["path"] for e in entries] == [
        "conversation:create",
        "conversation:create",
        "conversation:message",
        "conversation:message",
        "conversation:join",
        "conversation:leave",
        "conversation:remove",
    ]
    assert all(e["provider"] == "sunshine" and e["time"] == T0 for e in entries)
    bodies = [json.loads(e["request_body"]) for e in entries]
    assert all(
        b["createdAt"] == T0 and len(b["id"]) == 24 and b["type"] == e["path"]
        for b, e in zip(bodies, entries, strict=True)
    )

    created_personal, created_group = bodies[0]["payload"], bodies[1]["payload"]
    assert created_personal["conversation"] == {"id": personal["id"], "type": "personal", "metadata": None}
    assert created_personal["user"]["id"] == ada["id"] and created_personal["source"] == {"type": "api:conversations"}
    assert created_group["conversation"]["type"] == "sdkGroup" and "user" not in created_group

    business, user = bodies[2]["payload"]["message"], bodies[3]["payload"]["message"]
    assert business["author"] == {"type": "business"} and business["content"]["text"] == "business says hi"
    assert user["author"]["type"] == "user" and user["author"]["userId"] == ada["id"]
    assert user["author"]["user"] == {"id": ada["id"], "externalId": ada["externalId"], "authenticated": False}
    assert bodies[3]["payload"]["conversation"]["id"] == personal["id"]


def test_a_refused_call_journals_no_event(emulator, sunshine_app, sunshine_conversation):
    sunshine_app.request("DELETE", f"conversations/{sunshine_conversation.id}")  # the default: refused
    post(sunshine_app, sunshine_conversation.id, {"author": {"type": "business"}, "content": {"type": "text"}})
    assert emulator.control.journal(method="EVENT", path="conversation:*") == [
        e for e in emulator.control.journal(method="EVENT") if e["path"] == "conversation:create"
    ]
    assert len(emulator.control.journal(method="EVENT")) == 1
