"""Sunshine Conversations v2 users, their clients and devices (reference 2.1, 2.3, "What the emulator must
get right" 4, 6 and 8).

Every answer is pinned whole: status, body, `Content-Type: application/json`. Users are addressed by id or
by externalId; externalIds travel percent-encoded in the raw path (`%2F` stays inside the segment). The
namespace's clock is frozen at T0, so every timestamp the emulator writes is T0. Webhook events are read
from the journal (method `EVENT`, path = the event type, direction `event`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from emulator.pytest_plugin import SunshineApp

T0 = "2026-03-01T00:00:00Z"
STAMP = "2026-03-01T00:00:00.000Z"  # T0 as the provider writes timestamps
HEX_ID = re.compile(r"[0-9a-f]{24}")
API_SOURCE = {"type": "api:conversations"}
EMPTY_PROFILE = {"givenName": None, "surname": None, "email": None, "avatarUrl": None, "locale": None}

pytestmark = pytest.mark.emulator_time(T0)


def error(code: str, title: str) -> dict:
    return {"errors": [{"code": code, "title": title}]}


USER_NOT_FOUND = error("user_not_found", "User not found")


def send(app: SunshineApp, method: str, tail: str, **kwargs: Any) -> tuple[int, Any]:
    """One call with the app key; every answer of the API is JSON."""
    reply = app.request(method, tail, **kwargs)
    assert reply.headers["Content-Type"] == "application/json", (reply.status, reply.headers)
    return reply.status, reply.json()


def raw(app: SunshineApp, method: str, segment: str, tail: str = "", **kwargs: Any) -> tuple[int, Any]:
    """A call whose user segment is sent exactly as given (already percent-encoded)."""
    path = f"/v2/apps/{app.id}/users/{segment}{tail}"
    reply = app.handle.request(method, path, headers=app.basic_headers(), **kwargs)
    assert reply.headers["Content-Type"] == "application/json"
    return reply.status, reply.json()


def bad_request(title: str) -> tuple[int, dict]:
    return 400, error("bad_request", title)


def user_body(id: str, **fields: Any) -> dict:
    """A user as the API shows it: every field present, optional strings null."""
    return {
        "id": id,
        "externalId": None,
        "zendeskId": None,
        "brandId": None,
        "authenticated": False,
        "signedUpAt": STAMP,
        "toBeRetained": False,
        "hasPaymentInfo": False,
        "profile": EMPTY_PROFILE,
        "metadata": {},
        "identities": [],
        **fields,
    }


def no_empty_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(no_empty_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(no_empty_strings(v) for v in value)
    return value != ""


def events(app: SunshineApp, pattern: str = "*") -> list[dict]:
    """The user and client events journaled so far (matching a glob of the type), decoded. Events of
    conversations (`conversation:create` of the fixtures) are not this file's subject."""
    found = []
    for entry in app.handle.control.journal(method="EVENT", path=pattern):
        if not entry["path"].startswith(("user:", "client:")):
            continue
        assert (entry["provider"], entry["direction"], entry["status"]) == ("sunshine", "event", 0)
        event = json.loads(entry["request_body"])
        assert entry["path"] == event["type"]
        assert HEX_ID.fullmatch(event["id"]) and event["createdAt"] == STAMP
        found.append(event)
    return found


def payloads(app: SunshineApp, pattern: str = "*") -> list[tuple[str, dict]]:
    return [(event["type"], event["payload"]) for event in events(app, pattern)]


# --- a seeded app: identities, clients and devices come from the seed ------------------------------------


@dataclass(frozen=True)
class Seeded:
    """An app seeded with `seeded-sue` (an email identity, three clients, two devices) and `seeded-bare`."""

    app: SunshineApp
    user_id: str
    sdk_id: str
    messenger_id: str
    telegram_id: str
    web_id: str
    ios_id: str
    integration_id: str


def _ids(count: int) -> Iterator[str]:
    return (secrets.token_hex(12) for _ in range(count))


@pytest.fixture
def seeded(emulator_backend) -> Seeded:
    app_id, user_id, bare_id, sdk_id, messenger_id, telegram_id, web_id, ios_id, integration_id = _ids(9)
    key_id, secret = f"app_{secrets.token_hex(12)}", secrets.token_urlsafe(18)
    sdk = {
        "id": sdk_id,
        "type": "sdk",
        "status": "active",
        "integrationId": integration_id,
        "lastSeen": "2026-02-20T00:00:00.000Z",
        "linkedAt": "2026-01-01T00:00:00.000Z",
        "displayName": "Sue's phone",
        "avatarUrl": "https://example.com/sue.png",
        "info": {"os": "iOS"},
        "raw": {"sdk": "1"},
        "devices": [
            {
                "id": web_id,
                "type": "web",
                "guid": "guid-web",
                "clientId": sdk_id,
                "integrationId": integration_id,
                "lastSeen": "2026-02-01T00:00:00.000Z",
            },
            {
                "id": ios_id,
                "type": "ios",
                "guid": "guid-ios",
                "clientId": sdk_id,
                "integrationId": integration_id,
                "lastSeen": "2026-02-20T00:00:00.000Z",
                "status": "active",
                "pushNotificationToken": "push-1",
                "appVersion": "2.1",
                "info": {"os": "17.2"},
            },
        ],
    }
    user = {
        "id": user_id,
        "externalId": "seeded-sue",
        "authenticated": True,
        "signedUpAt": "2026-01-01T00:00:00.000Z",
        "identities": [{"type": "email", "value": "sue@example.org", "verification": "sso"}],
        "profile": {
            "givenName": "Sue",
            "surname": "Ng",
            "email": "profile-only@example.org",
            "avatarUrl": "https://example.com/a.png",
            "locale": "en",
        },
        "metadata": {"tier": "gold", "visits": 3, "vip": True},
        "clients": [
            sdk,
            {
                "id": messenger_id,
                "type": "messenger",
                "status": "active",
                "displayName": "Sue N",
                "info": {"page": "p"},
                "raw": {"psid": "1"},
            },
            {"id": telegram_id, "type": "telegram", "status": "inactive"},
        ],
    }
    bare = {"id": bare_id, "externalId": "seeded-bare"}
    emulator_backend.control.seed(
        {"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}], "users": [user, bare]}]}}
    )
    app = SunshineApp(app_id, key_id, secret, "", "", emulator_backend)
    return Seeded(app, user_id, sdk_id, messenger_id, telegram_id, web_id, ios_id, integration_id)


# --- create ----------------------------------------------------------------------------------------------


def test_create_a_user_with_every_field(sunshine_app):
    body = {
        "externalId": "sue-1",
        "signedUpAt": "2025-02-03T19:10:08.152Z",
        "toBeRetained": True,
        "profile": {
            "givenName": "Sue",
            "surname": "Ng",
            "email": "sue@example.org",
            "avatarUrl": "https://example.com/a.png",
            "locale": "en-CA",
        },
        "metadata": {"plan": "gold", "seats": 3, "trial": False, "ratio": 0.5},
    }
    status, answer = send(sunshine_app, "POST", "users", json=body)
    assert status == 201 and set(answer) == {"user"}
    user = answer["user"]
    assert HEX_ID.fullmatch(user["id"])
    assert answer == {
        "user": user_body(
            user["id"],
            externalId="sue-1",
            signedUpAt="2025-02-03T19:10:08.152Z",
            toBeRetained=True,
            profile=body["profile"],
            metadata=body["metadata"],
        )
    }
    assert send(sunshine_app, "GET", f"users/{user['id']}") == (200, answer)


def test_create_a_user_from_an_empty_object(sunshine_app):
    status, answer = send(sunshine_app, "POST", "users", json={})
    assert status == 201
    user = answer["user"]
    assert answer == {"user": user_body(user["id"])}
    assert no_empty_strings(answer)
    assert [type(user[name]) for name in ("authenticated", "toBeRetained", "hasPaymentInfo")] == [bool, bool, bool]


def test_anonymous_users_are_many_each_with_its_own_id(sunshine_app):
    ids = {send(sunshine_app, "POST", "users", json={})[1]["user"]["id"] for _ in range(3)}
    assert len(ids) == 3 and all(HEX_ID.fullmatch(i) for i in ids)


def test_creating_a_user_journals_no_event(sunshine_app):
    assert send(sunshine_app, "POST", "users", json={"externalId": "quiet"})[0] == 201
    assert events(sunshine_app) == []


def test_a_second_user_with_the_same_external_id_is_409(sunshine_app, sunshine_user):
    answer = send(
        sunshine_app, "POST", "users", json={"externalId": sunshine_user.external_id, "profile": {"givenName": "Twin"}}
    )
    assert answer == (409, error("conflict", "User already exists"))
    status, found = send(sunshine_app, "GET", f"users/{sunshine_user.external_id}")
    assert (status, found["user"]["id"], found["user"]["profile"]["givenName"]) == (200, sunshine_user.id, None)


def test_external_ids_are_case_sensitive(sunshine_app):
    assert send(sunshine_app, "POST", "users", json={"externalId": "Sue"})[0] == 201
    assert send(sunshine_app, "POST", "users", json={"externalId": "sue"})[0] == 201


def test_an_external_id_of_1024_characters_is_the_longest(sunshine_app):
    assert send(sunshine_app, "POST", "users", json={"externalId": "x" * 1024})[0] == 201
    assert send(sunshine_app, "POST", "users", json={"externalId": "y" * 1025}) == bad_request(
        ".externalId should NOT be longer than 1024 characters"
    )


INVALID_USERS = {
    "empty externalId": ({"externalId": ""}, ".externalId should NOT be shorter than 1 characters"),
    "numeric externalId": ({"externalId": 42}, ".externalId should be string"),
    "null-free profile": ({"profile": "Sue"}, ".profile should be object"),
    "empty givenName": ({"profile": {"givenName": ""}}, ".profile.givenName should NOT be shorter than 1 characters"),
    "long email": ({"profile": {"email": "e" * 129}}, ".profile.email should NOT be longer than 128 characters"),
    "long avatarUrl": (
        {"profile": {"avatarUrl": "h" * 2049}},
        ".profile.avatarUrl should NOT be longer than 2048 characters",
    ),
    "long locale": ({"profile": {"locale": "l" * 65}}, ".profile.locale should NOT be longer than 64 characters"),
    "numeric surname": ({"profile": {"surname": 7}}, ".profile.surname should be string"),
    "string toBeRetained": ({"toBeRetained": "yes"}, ".toBeRetained should be boolean"),
    "numeric signedUpAt": ({"signedUpAt": 1700000000}, ".signedUpAt should be string"),
    "long brandId": ({"brandId": "1" * 25}, ".brandId should NOT be longer than 24 characters"),
    "list metadata": ({"metadata": ["a"]}, ".metadata should be object"),
    "nested metadata": (
        {"metadata": {"address": {"city": "Paris"}}},
        "User metadata is a flat object of strings, numbers and booleans ('address')",
    ),
    "null in metadata": (
        {"metadata": {"gone": None}},
        "User metadata is a flat object of strings, numbers and booleans ('gone')",
    ),
    "metadata over 4 KB": ({"metadata": {"blob": "x" * 4096}}, "User metadata is limited to 4096 bytes in size."),
}


@pytest.mark.parametrize("body, title", INVALID_USERS.values(), ids=list(INVALID_USERS))
def test_an_invalid_user_is_400_with_a_title(sunshine_app, body, title):
    assert send(sunshine_app, "POST", "users", json=body) == bad_request(title)


@pytest.mark.parametrize(
    "data, title",
    [
        ('{"externalId": "j", ', "Invalid JSON body"),
        ('{"externalId": "j", "metadata": {"k": NaN}}', "Invalid JSON body"),
        ('{"externalId": "j", "metadata": {"k": 1e999}}', "Invalid JSON body"),
        ('{"externalId": "j", "metadata": {"k": -Infinity}}', "Invalid JSON body"),
        (
            '{"externalId": "j", "metadata": {"k": %s}}' % ("[" * 70 + "]" * 70),
            "Request body is nested deeper than 64 levels",
        ),
        ('[{"externalId": "j"}]', "should be object"),
        ('"j"', "should be object"),
        ("null", "should be object"),
        ("", "should be object"),
    ],
    ids=["malformed", "NaN", "1e999", "-Infinity", "too deep", "array", "string", "null", "empty"],
)
def test_a_body_that_is_not_a_json_object_is_400(sunshine_app, data, title):
    reply = sunshine_app.request("POST", "users", data=data, headers={"Content-Type": "application/json"})
    assert (reply.status, reply.json(), reply.headers["Content-Type"]) == (
        400,
        error("bad_request", title),
        "application/json",
    )
    assert send(sunshine_app, "GET", "users/j") == (404, USER_NOT_FOUND)


def test_a_refused_create_creates_nothing(sunshine_app):
    assert send(sunshine_app, "POST", "users", json={"externalId": "half", "toBeRetained": "no"})[0] == 400
    assert send(sunshine_app, "GET", "users/half") == (404, USER_NOT_FOUND)


# --- get, by id and by externalId ----------------------------------------------------------------------------


def test_get_by_id_and_by_external_id(sunshine_app, sunshine_user):
    by_id = send(sunshine_app, "GET", f"users/{sunshine_user.id}")
    assert by_id == send(sunshine_app, "GET", f"users/{sunshine_user.external_id}")
    assert by_id == (200, {"user": user_body(sunshine_user.id, externalId=sunshine_user.external_id)})


EXTERNAL_IDS = ["a/b", "sue@example.org", "first last", "a+b", "100%", "zoë/ü", "日本語", "a/b/../c", "%2F", "?#&="]


@pytest.mark.parametrize("external_id", EXTERNAL_IDS)
def test_percent_encoded_external_ids_reach_their_user(sunshine_app, external_id):
    status, created = send(sunshine_app, "POST", "users", json={"externalId": external_id})
    assert status == 201
    segment = quote(external_id, safe="")
    assert raw(sunshine_app, "GET", segment) == (200, created)
    patched = raw(sunshine_app, "PATCH", segment, json={"profile": {"givenName": "Enc"}})
    assert (patched[0], patched[1]["user"]["id"], patched[1]["user"]["externalId"]) == (
        200,
        created["user"]["id"],
        external_id,
    )
    assert raw(sunshine_app, "GET", segment, "/clients")[0] == 200
    assert raw(sunshine_app, "DELETE", segment) == (200, {})
    assert raw(sunshine_app, "GET", segment) == (404, USER_NOT_FOUND)


def test_reserved_characters_may_also_arrive_unencoded(sunshine_app):
    """`@` and `+` are legal in a path segment; `+` is a plus there, never a space."""
    for external_id in ("sue@example.org", "a+b"):
        created = send(sunshine_app, "POST", "users", json={"externalId": external_id})[1]
        assert raw(sunshine_app, "GET", external_id) == (200, created)
    assert raw(sunshine_app, "GET", "a%20b") == (404, USER_NOT_FOUND)


def test_an_unencoded_slash_is_a_path_separator(sunshine_app):
    assert send(sunshine_app, "POST", "users", json={"externalId": "a/b"})[0] == 201
    status, body = raw(sunshine_app, "GET", "a/b")
    assert (status, body["errors"][0]["code"]) == (404, "not_found")


def test_an_id_wins_over_an_equal_external_id(sunshine_app, sunshine_user):
    """[I] `{userIdOrExternalId}` is tried as an id first."""
    status, other = send(sunshine_app, "POST", "users", json={"externalId": sunshine_user.id})
    assert status == 201 and other["user"]["id"] != sunshine_user.id
    assert send(sunshine_app, "GET", f"users/{sunshine_user.id}")[1]["user"]["id"] == sunshine_user.id
    assert send(sunshine_app, "GET", f"users/{other['user']['id']}")[1]["user"]["externalId"] == sunshine_user.id


@pytest.mark.parametrize(
    "method, tail",
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("DELETE", "/personalinformation"),
        ("GET", "/clients"),
        ("GET", "/devices"),
        ("GET", "/devices/" + "0" * 24),
        ("DELETE", "/clients/" + "0" * 24),
    ],
)
def test_an_unknown_user_is_404_user_not_found(sunshine_app, method, tail):
    body = {} if method == "PATCH" else None
    assert send(sunshine_app, method, f"users/nobody{tail}", json=body) == (404, USER_NOT_FOUND)


# --- update ----------------------------------------------------------------------------------------------------


def test_patch_merges_the_profile_and_replaces_metadata(sunshine_app):
    created = send(
        sunshine_app,
        "POST",
        "users",
        json={
            "externalId": "m-1",
            "profile": {"givenName": "Sue", "surname": "Ng", "locale": "en"},
            "metadata": {"a": "1", "b": 2},
        },
    )[1]["user"]
    status, answer = send(
        sunshine_app,
        "PATCH",
        "users/m-1",
        json={"profile": {"surname": "Smith", "email": "s@example.org"}, "metadata": {"c": True}},
    )
    profile = {"givenName": "Sue", "surname": "Smith", "email": "s@example.org", "avatarUrl": None, "locale": "en"}
    assert (status, answer) == (
        200,
        {"user": user_body(created["id"], externalId="m-1", profile=profile, metadata={"c": True})},
    )
    assert send(sunshine_app, "GET", f"users/{created['id']}") == (200, answer)


def test_patch_clears_a_profile_field_with_null(sunshine_app):
    send(sunshine_app, "POST", "users", json={"externalId": "m-2", "profile": {"givenName": "Sue", "surname": "Ng"}})
    answer = send(sunshine_app, "PATCH", "users/m-2", json={"profile": {"givenName": None}})[1]
    assert answer["user"]["profile"] == {**EMPTY_PROFILE, "surname": "Ng"}


def test_patch_changes_signed_up_at_and_to_be_retained_and_leaves_the_rest(sunshine_app):
    send(sunshine_app, "POST", "users", json={"externalId": "m-3", "metadata": {"keep": "me"}})
    status, answer = send(
        sunshine_app, "PATCH", "users/m-3", json={"signedUpAt": "2020-01-01T00:00:00.000Z", "toBeRetained": True}
    )
    assert status == 200
    user = answer["user"]
    assert (user["signedUpAt"], user["toBeRetained"], user["metadata"], user["profile"]) == (
        "2020-01-01T00:00:00.000Z",
        True,
        {"keep": "me"},
        EMPTY_PROFILE,
    )


def test_patch_with_null_metadata_empties_it(sunshine_app):
    """[I] metadata null becomes `{}`: the user's metadata is never null (spec: `nullable: false`)."""
    send(sunshine_app, "POST", "users", json={"externalId": "m-4", "metadata": {"a": 1}})
    assert send(sunshine_app, "PATCH", "users/m-4", json={"metadata": None})[1]["user"]["metadata"] == {}


def test_patch_raises_no_user_update_event(sunshine_app, sunshine_user):
    """[C] `user:update` announces a change of the user's identification only, not a PATCH of its profile."""
    assert (
        send(sunshine_app, "PATCH", f"users/{sunshine_user.external_id}", json={"profile": {"givenName": "Ev"}})[0]
        == 200
    )
    assert payloads(sunshine_app) == []


@pytest.mark.parametrize("external_id", ["new-id", None, "same"])
def test_patch_refuses_external_id(sunshine_app, external_id):
    send(sunshine_app, "POST", "users", json={"externalId": "same", "profile": {"givenName": "Sue"}})
    body = {"externalId": external_id, "profile": {"givenName": "Changed"}}
    assert send(sunshine_app, "PATCH", "users/same", json=body) == bad_request("externalId cannot be updated")
    user = send(sunshine_app, "GET", "users/same")[1]["user"]
    assert (user["externalId"], user["profile"]["givenName"]) == ("same", "Sue")
    assert send(sunshine_app, "GET", "users/new-id") == (404, USER_NOT_FOUND)
    assert events(sunshine_app) == []


@pytest.mark.parametrize(
    "body, title",
    [
        ({"profile": {"email": ""}}, ".profile.email should NOT be shorter than 1 characters"),
        ({"toBeRetained": 1}, ".toBeRetained should be boolean"),
        ({"metadata": {"k": [1]}}, "User metadata is a flat object of strings, numbers and booleans ('k')"),
        ({"profile": []}, ".profile should be object"),
    ],
)
def test_an_invalid_patch_is_400_and_changes_nothing(sunshine_app, sunshine_user, body, title):
    before = send(sunshine_app, "GET", f"users/{sunshine_user.id}")
    assert send(sunshine_app, "PATCH", f"users/{sunshine_user.id}", json=body) == bad_request(title)
    assert send(sunshine_app, "GET", f"users/{sunshine_user.id}") == before
    assert events(sunshine_app) == []


# --- delete ----------------------------------------------------------------------------------------------------


def test_delete_a_user_then_it_is_gone(sunshine_app, sunshine_user):
    assert send(sunshine_app, "DELETE", f"users/{sunshine_user.external_id}") == (200, {})
    assert send(sunshine_app, "GET", f"users/{sunshine_user.id}") == (404, USER_NOT_FOUND)
    assert send(sunshine_app, "GET", f"users/{sunshine_user.external_id}") == (404, USER_NOT_FOUND)
    assert send(sunshine_app, "DELETE", f"users/{sunshine_user.id}") == (404, USER_NOT_FOUND)
    truncated = {"id": sunshine_user.id, "externalId": sunshine_user.external_id, "authenticated": False}
    assert payloads(sunshine_app) == [("user:remove", {"user": truncated})]


def test_a_deleted_users_external_id_is_free_again(sunshine_app, sunshine_user):
    send(sunshine_app, "DELETE", f"users/{sunshine_user.id}")
    status, answer = send(sunshine_app, "POST", "users", json={"externalId": sunshine_user.external_id})
    assert status == 201 and answer["user"]["id"] != sunshine_user.id
    assert send(sunshine_app, "GET", f"users/{sunshine_user.external_id}") == (200, answer)


# --- personal information ---------------------------------------------------------------------------------------


def test_delete_personal_information(seeded):
    app = seeded.app
    status, answer = send(app, "DELETE", "users/seeded-sue/personalinformation")
    expected = user_body(
        seeded.user_id,
        externalId="seeded-sue",
        authenticated=True,
        signedUpAt="2026-01-01T00:00:00.000Z",
        profile={**EMPTY_PROFILE, "locale": "en"},
    )
    assert (status, answer) == (200, {"user": expected})
    assert send(app, "GET", f"users/{seeded.user_id}") == (200, answer)
    clients = {c["id"]: c for c in send(app, "GET", "users/seeded-sue/clients")[1]["clients"]}
    for client in clients.values():
        assert (client["displayName"], client["avatarUrl"], client["info"], client["raw"]) == (None, None, None, None)
    sdk = clients[seeded.sdk_id]
    assert (sdk["type"], sdk["status"], sdk["integrationId"], sdk["lastSeen"]) == (
        "sdk",
        "active",
        seeded.integration_id,
        "2026-02-20T00:00:00.000Z",
    )
    assert len(send(app, "GET", "users/seeded-sue/devices")[1]["devices"]) == 2  # devices stay


def test_personal_information_goes_but_conversations_stay(sunshine_app, sunshine_conversation):
    user = sunshine_conversation.user
    send(sunshine_app, "PATCH", f"users/{user.id}", json={"profile": {"givenName": "Sue"}, "metadata": {"a": "b"}})
    status, answer = send(sunshine_app, "DELETE", f"users/{user.id}/personalinformation")
    assert (status, answer["user"]["profile"], answer["user"]["metadata"], answer["user"]["externalId"]) == (
        200,
        EMPTY_PROFILE,
        {},
        user.external_id,
    )
    assert send(sunshine_app, "GET", f"conversations/{sunshine_conversation.id}")[0] == 200


# --- list users by email identity ---------------------------------------------------------------------------------


def test_list_users_needs_the_email_filter(seeded):
    refusal = bad_request("filter[identities.email] is required")
    assert send(seeded.app, "GET", "users") == refusal
    assert send(seeded.app, "GET", "users", params={"filter[identities.email]": ""}) == refusal
    assert send(seeded.app, "GET", "users", params={"filter[userId]": seeded.user_id}) == refusal


def test_list_users_matches_identities_not_the_profile(seeded):
    expected = send(seeded.app, "GET", f"users/{seeded.user_id}")[1]["user"]
    assert expected["identities"] == [{"type": "email", "value": "sue@example.org", "verification": "sso"}]
    assert send(seeded.app, "GET", "users", params={"filter[identities.email]": "sue@example.org"}) == (
        200,
        {"users": [expected]},
    )
    assert send(seeded.app, "GET", "users", params={"filter": json.dumps({"identities.email": "sue@example.org"})}) == (
        200,
        {"users": [expected]},
    )
    assert send(seeded.app, "GET", "users", params={"filter[identities.email]": "profile-only@example.org"}) == (
        200,
        {"users": []},
    )
    assert send(seeded.app, "GET", "users", params={"filter[identities.email]": "SUE@example.org"}) == (
        200,
        {"users": []},
    )


# --- clients ------------------------------------------------------------------------------------------------------


def test_list_clients_in_pages(seeded):
    app = seeded.app
    status, everything = send(app, "GET", f"users/{seeded.user_id}/clients")
    assert status == 200
    assert [c["id"] for c in everything["clients"]] == [seeded.sdk_id, seeded.messenger_id, seeded.telegram_id]
    assert (everything["meta"], everything["links"]) == ({"hasMore": False}, {})
    assert everything["clients"][2] == {
        "id": seeded.telegram_id,
        "type": "telegram",
        "status": "inactive",
        "integrationId": None,
        "externalId": None,
        "lastSeen": None,
        "linkedAt": None,
        "displayName": None,
        "avatarUrl": None,
        "info": None,
        "raw": None,
    }
    url = f"http://localhost/v2/apps/{app.id}/users/{seeded.user_id}/clients"
    first = send(app, "GET", f"users/{seeded.user_id}/clients", params={"page[size]": "2"})[1]
    assert [c["id"] for c in first["clients"]] == [seeded.sdk_id, seeded.messenger_id]
    assert first["meta"] == {"hasMore": True, "afterCursor": seeded.messenger_id}
    assert first["links"] == {"next": f"{url}?page%5Bsize%5D=2&page%5Bafter%5D={seeded.messenger_id}"}
    second = send(
        app, "GET", f"users/{seeded.user_id}/clients", params={"page[size]": "2", "page[after]": seeded.messenger_id}
    )[1]
    assert [c["id"] for c in second["clients"]] == [seeded.telegram_id]
    assert second["meta"] == {"hasMore": False, "beforeCursor": seeded.telegram_id}
    back = send(app, "GET", f"users/{seeded.user_id}/clients", params={"page[before]": seeded.telegram_id})[1]
    assert [c["id"] for c in back["clients"]] == [seeded.sdk_id, seeded.messenger_id]


@pytest.mark.parametrize(
    "params",
    [
        {"page[after]": "0" * 24, "page[before]": "0" * 24},
        {"page[size]": "0"},
        {"page[size]": "101"},
        {"page[size]": "ten"},
        {"page[after]": "short"},
    ],
    ids=["both cursors", "size 0", "size 101", "size not a number", "short cursor"],
)
def test_bad_page_parameters_are_400(seeded, params):
    answer = send(seeded.app, "GET", f"users/{seeded.user_id}/clients", params=params)
    assert answer == bad_request("Invalid page query parameters")


WHATSAPP = {
    "type": "whatsapp",
    "integrationId": "582dedf230e788746891281a",
    "primary": True,
    "phoneNumber": "+1 212-555-2368",
}


def link_body(conversation_id: str, **criteria: Any) -> dict:
    return {
        "matchCriteria": {**WHATSAPP, **criteria},
        "confirmation": {"type": "immediate"},
        "target": {"conversationId": conversation_id},
    }


def test_create_a_client_is_a_pending_channel_link(sunshine_app, sunshine_conversation):
    user = sunshine_conversation.user
    status, answer = send(
        sunshine_app, "POST", f"users/{user.external_id}/clients", json=link_body(sunshine_conversation.id)
    )
    assert status == 201
    client = answer["client"]
    assert HEX_ID.fullmatch(client["id"])
    assert answer == {
        "client": {
            "id": client["id"],
            "type": "whatsapp",
            "status": "pending",
            "integrationId": WHATSAPP["integrationId"],
            "externalId": "+1 212-555-2368",  # [I] the number the link reaches
            "lastSeen": None,
            "linkedAt": STAMP,
            "displayName": None,
            "avatarUrl": None,
            "info": None,
            "raw": None,
        }
    }
    listed = send(sunshine_app, "GET", f"users/{user.id}/clients")[1]["clients"]
    assert listed == [client]
    assert payloads(sunshine_app) == [
        (
            "client:add",
            {
                "user": {"id": user.id, "externalId": user.external_id, "authenticated": False},
                "client": client,
                "reason": "channelLinking",
                "conversation": {"id": sunshine_conversation.id, "type": "personal", "metadata": None},
                "source": API_SOURCE,
            },
        )
    ]


def test_a_mailgun_link_reaches_an_address(sunshine_app, sunshine_conversation):
    body = link_body(sunshine_conversation.id, type="mailgun", address="sue@example.org", subject="Hi")
    del body["matchCriteria"]["phoneNumber"]
    status, answer = send(sunshine_app, "POST", f"users/{sunshine_conversation.user.id}/clients", json=body)
    assert (status, answer["client"]["type"], answer["client"]["externalId"]) == (201, "mailgun", "sue@example.org")


def _without(body: dict, *path: str) -> dict:
    *parents, name = path
    target = body
    for part in parents:
        target = target[part]
    del target[name]
    return body


@pytest.mark.parametrize(
    "change, title",
    [
        (
            lambda b: _without(b, "matchCriteria", "phoneNumber"),
            ".matchCriteria should have required property 'phoneNumber'",
        ),
        (
            lambda b: {**b, "matchCriteria": {**b["matchCriteria"], "type": "mailgun"}},
            ".matchCriteria should have required property 'address'",
        ),
        (
            lambda b: {**b, "matchCriteria": {**b["matchCriteria"], "phoneNumber": 12125552368}},
            ".matchCriteria.phoneNumber should be string",
        ),
        (
            lambda b: {**b, "matchCriteria": {**b["matchCriteria"], "type": "telegram"}},
            ".matchCriteria.type should be equal to one of the allowed values",
        ),
        (
            lambda b: _without(b, "matchCriteria", "integrationId"),
            ".matchCriteria should have required property 'integrationId'",
        ),
        (lambda b: _without(b, "confirmation"), "should have required property 'confirmation'"),
        (
            lambda b: {**b, "confirmation": {"type": "later"}},
            ".confirmation.type should be equal to one of the allowed values",
        ),
        (lambda b: _without(b, "target", "conversationId"), ".target should have required property 'conversationId'"),
        (
            lambda b: {**b, "matchCriteria": {**b["matchCriteria"], "primary": "yes"}},
            ".matchCriteria.primary should be boolean",
        ),
    ],
    ids=[
        "no phone",
        "mailgun without address",
        "numeric phone",
        "unlinkable type",
        "no integration",
        "no confirmation",
        "bad confirmation",
        "no target",
        "string primary",
    ],
)
def test_an_invalid_link_is_400_and_adds_nothing(sunshine_app, sunshine_conversation, change, title):
    user = sunshine_conversation.user
    assert send(
        sunshine_app, "POST", f"users/{user.id}/clients", json=change(link_body(sunshine_conversation.id))
    ) == bad_request(title)
    assert send(sunshine_app, "GET", f"users/{user.id}/clients")[1]["clients"] == []
    assert events(sunshine_app) == []


def test_a_link_to_a_conversation_the_user_is_not_in_is_404(sunshine_app, sunshine_conversation):
    """[I] the target must be one of the user's conversations."""
    stranger = send(sunshine_app, "POST", "users", json={"externalId": "stranger"})[1]["user"]
    answer = send(sunshine_app, "POST", f"users/{stranger['id']}/clients", json=link_body(sunshine_conversation.id))
    assert answer == (404, error("conversation_not_found", "Conversation not found"))
    assert send(sunshine_app, "POST", "users/stranger/clients", json=link_body("0" * 24)) == answer


def test_remove_a_client(seeded):
    app = seeded.app
    assert send(app, "DELETE", f"users/seeded-sue/clients/{seeded.messenger_id}") == (200, {})
    remaining = [c["id"] for c in send(app, "GET", "users/seeded-sue/clients")[1]["clients"]]
    assert remaining == [seeded.sdk_id, seeded.telegram_id]
    assert send(app, "DELETE", f"users/seeded-sue/clients/{seeded.messenger_id}") == (
        404,
        error("client_not_found", "Client not found"),
    )
    ((kind, payload),) = payloads(app)
    assert (
        kind,
        payload["user"],
        payload["client"]["id"],
        payload["client"]["type"],
        payload["reason"],
        payload["source"],
    ) == (
        "client:remove",
        {"id": seeded.user_id, "externalId": "seeded-sue", "authenticated": True},
        seeded.messenger_id,
        "messenger",
        "api",
        API_SOURCE,
    )


def test_an_sdk_client_cannot_be_removed(seeded):
    answer = send(seeded.app, "DELETE", f"users/{seeded.user_id}/clients/{seeded.sdk_id}")
    assert answer == bad_request("Cannot remove a client of type 'sdk'")
    assert len(send(seeded.app, "GET", f"users/{seeded.user_id}/clients")[1]["clients"]) == 3
    assert events(seeded.app) == []


def test_a_client_of_another_user_is_not_found(seeded):
    answer = send(seeded.app, "DELETE", f"users/seeded-bare/clients/{seeded.messenger_id}")
    assert answer == (404, error("client_not_found", "Client not found"))


# --- devices ----------------------------------------------------------------------------------------------------


def test_devices_most_recently_seen_first(seeded):
    status, answer = send(seeded.app, "GET", "users/seeded-sue/devices")
    assert status == 200
    assert [d["id"] for d in answer["devices"]] == [seeded.ios_id, seeded.web_id]
    ios = answer["devices"][0]
    assert ios == {
        "id": seeded.ios_id,
        "type": "ios",
        "guid": "guid-ios",
        "clientId": seeded.sdk_id,
        "status": "active",
        "integrationId": seeded.integration_id,
        "lastSeen": "2026-02-20T00:00:00.000Z",
        "pushNotificationToken": "push-1",
        "info": {"os": "17.2"},
        "appVersion": "2.1",
    }
    assert send(seeded.app, "GET", f"users/seeded-sue/devices/{seeded.web_id}") == (
        200,
        {"device": answer["devices"][1]},
    )


def test_device_not_found(seeded):
    not_found = (404, error("device_not_found", "Device not found"))
    assert send(seeded.app, "GET", f"users/seeded-sue/devices/{'0' * 24}") == not_found
    assert send(seeded.app, "GET", f"users/seeded-bare/devices/{seeded.web_id}") == not_found  # another user's device
    assert send(seeded.app, "GET", "users/seeded-bare/devices") == (200, {"devices": []})


@pytest.mark.parametrize("avatar", ["AAA", "not a uri", "//no-scheme.example/a.png"])
def test_an_avatar_url_that_is_no_uri_is_refused_in_the_validators_words(sunshine_app, avatar) -> None:
    reply = sunshine_app.request("POST", "users", json={"externalId": "u-avatar", "profile": {"avatarUrl": avatar}})
    assert reply.status == 400
    assert reply.json()["errors"] == [{"code": "bad_request", "title": '.profile.avatarUrl should match format "uri"'}]
    assert sunshine_app.request("GET", "users/u-avatar").status == 404


@pytest.mark.parametrize("email", ["AAA", "a@b", "two@@example.com", "space in@example.com"])
def test_an_email_that_is_no_address_is_refused_in_the_validators_words(sunshine_app, email) -> None:
    reply = sunshine_app.request("POST", "users", json={"externalId": "u-email", "profile": {"email": email}})
    assert reply.status == 400
    assert reply.json()["errors"] == [{"code": "bad_request", "title": '.profile.email should match format "email"'}]
    assert sunshine_app.request("GET", "users/u-email").status == 404
