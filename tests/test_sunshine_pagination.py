"""Sunshine Conversations v2 cursor pagination (reference section 6, "What the emulator must get right" 5).

`page[after]` / `page[before]` are record ids (24 characters), never both; `page[size]` is 1-100, default
25; answers carry `meta.hasMore/afterCursor/beforeCursor` and `links.next/prev` as full URLs that keep the
filter. Queries arrive in three encodings: the spec's brackets (Python client 16, Node), JSON objects
(`page={"after": ..., "size": 10}`, Python client 17) and only the first key of an object (Node).
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, quote, urlsplit

import pytest

INVALID_PAGE = {"errors": [{"code": "bad_request", "title": "Invalid page query parameters"}]}


def created(reply, wrapper):
    assert reply.status == 201, reply.text
    return reply.json()[wrapper]


@pytest.fixture
def owner(sunshine_app):
    """A user with 60 personal conversations, in creation order, with its externalId."""
    external_id = f"walker/{secrets.token_hex(3)} +é"
    user = created(sunshine_app.request("POST", "users", json={"externalId": external_id}), "user")
    body = {"type": "personal", "participants": [{"userId": user["id"]}]}
    ids = [created(sunshine_app.request("POST", "conversations", json=body), "conversation")["id"] for _ in range(60)]
    return {"id": user["id"], "externalId": external_id, "conversations": ids}


def listing(app, **params):
    reply = app.request("GET", "conversations", params=params)
    assert reply.status == 200, reply.text
    return reply.json()


def ids_of(page):
    return [c["id"] for c in page["conversations"]]


def follow(emulator, app, link):
    """GET a `links` URL as a client would (the in-process transport takes its path and query)."""
    parts = urlsplit(link)
    reply = emulator.request("GET", f"{parts.path}?{parts.query}", headers=app.basic_headers())
    assert reply.status == 200, reply.text
    return reply.json()


def query_of(link):
    return {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}


# --- the cursors and the size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        {"page[after]": "a" * 24, "page[before]": "b" * 24},
        {"page": json.dumps({"after": "a" * 24, "before": "b" * 24})},
        {"page": json.dumps({"after": "a" * 24}), "page[before]": "b" * 24},
    ],
    ids=["brackets", "json", "mixed"],
)
def test_never_both_cursors(emulator, sunshine_app, sunshine_user, page):
    reply = sunshine_app.request("GET", "conversations", params={"filter[userId]": sunshine_user.id, **page})
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


@pytest.mark.parametrize("cursor", ["a" * 23, "a" * 25, ""])
@pytest.mark.parametrize("which", ["after", "before"])
def test_a_cursor_is_24_characters(emulator, sunshine_app, sunshine_user, which, cursor):
    reply = sunshine_app.request(
        "GET", "conversations", params={"filter[userId]": sunshine_user.id, f"page[{which}]": cursor}
    )
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


def test_a_cursor_in_json_must_be_a_string(emulator, sunshine_app, sunshine_user):
    page = json.dumps({"after": 123456789012345678901234})
    reply = sunshine_app.request("GET", "conversations", params={"filter[userId]": sunshine_user.id, "page": page})
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


@pytest.mark.parametrize("size", ["0", "101", "-1", "1.5", "ten", "", "1000"])
def test_page_size_outside_1_to_100_is_refused(emulator, sunshine_app, sunshine_user, size):
    reply = sunshine_app.request(
        "GET", "conversations", params={"filter[userId]": sunshine_user.id, "page[size]": size}
    )
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


@pytest.mark.parametrize("size", [0, 101, -1, True, 10.5, "x", [10]])
def test_page_size_in_json_outside_1_to_100_is_refused(emulator, sunshine_app, sunshine_user, size):
    page = json.dumps({"size": size})
    reply = sunshine_app.request("GET", "conversations", params={"filter[userId]": sunshine_user.id, "page": page})
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


@pytest.mark.parametrize("size", [1, 100])
def test_page_size_bounds_are_accepted(emulator, sunshine_app, owner, size):
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[size]": str(size)})
    assert ids_of(page) == owner["conversations"][:size]


def test_the_default_page_is_the_first_25(emulator, sunshine_app, owner):
    page = listing(sunshine_app, **{"filter[userId]": owner["id"]})
    assert ids_of(page) == owner["conversations"][:25]
    assert page["meta"] == {"hasMore": True, "afterCursor": owner["conversations"][24]}
    assert set(page["links"]) == {"next"}


# --- meta and links ----------------------------------------------------------------------------------------


def test_a_middle_page_has_both_cursors_and_both_links(emulator, sunshine_app, owner):
    ids = owner["conversations"]
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[after]": ids[9], "page[size]": "10"})
    assert ids_of(page) == ids[10:20]
    assert page["meta"] == {"hasMore": True, "afterCursor": ids[19], "beforeCursor": ids[10]}
    assert query_of(page["links"]["next"]) == {
        "filter[userId]": owner["id"],
        "page[size]": "10",
        "page[after]": ids[19],
    }
    assert query_of(page["links"]["prev"]) == {
        "filter[userId]": owner["id"],
        "page[size]": "10",
        "page[before]": ids[10],
    }


def test_links_are_full_urls_of_the_same_route(emulator, sunshine_app, owner):
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[size]": "10"})
    link = urlsplit(page["links"]["next"])
    assert (link.scheme, link.netloc, link.path) == ("http", "localhost", sunshine_app.path("conversations"))


def test_links_keep_the_sc_prefix(emulator, sunshine_app, owner):
    reply = emulator.request(
        "GET",
        f"/sc{sunshine_app.path('conversations')}",
        params={"filter[userId]": owner["id"]},
        headers=sunshine_app.basic_headers(),
    )
    assert reply.status == 200
    assert urlsplit(reply.json()["links"]["next"]).path == f"/sc{sunshine_app.path('conversations')}"


def test_links_keep_an_external_id_filter_that_needs_escaping(emulator, sunshine_app, owner):
    page = listing(sunshine_app, **{"filter[userExternalId]": owner["externalId"], "page[size]": "20"})
    assert ids_of(page) == owner["conversations"][:20]
    assert query_of(page["links"]["next"])["filter[userExternalId]"] == owner["externalId"]
    following = follow(emulator, sunshine_app, page["links"]["next"])
    assert ids_of(following) == owner["conversations"][20:40]


def test_the_last_page_going_forward_has_no_next(emulator, sunshine_app, owner):
    ids = owner["conversations"]
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[after]": ids[49], "page[size]": "20"})
    assert ids_of(page) == ids[50:]
    assert page["meta"] == {"hasMore": False, "beforeCursor": ids[50]}
    assert set(page["links"]) == {"prev"}


def test_a_page_ending_on_the_last_record_has_no_more(emulator, sunshine_app, owner):
    ids = owner["conversations"]
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[after]": ids[39], "page[size]": "20"})
    assert ids_of(page) == ids[40:]
    assert page["meta"] == {"hasMore": False, "beforeCursor": ids[40]} and "next" not in page["links"]


def test_brackets_win_over_a_json_object_for_the_same_key(emulator, sunshine_app, owner):
    """[I] both encodings in one query: each bracket key overrides the JSON object's."""
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page": json.dumps({"size": 5}), "page[size]": "7"})
    assert ids_of(page) == owner["conversations"][:7]


def test_going_backwards_has_more_while_records_precede(emulator, sunshine_app, owner):
    ids = owner["conversations"]
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[before]": ids[30], "page[size]": "20"})
    assert ids_of(page) == ids[10:30]
    assert page["meta"] == {"hasMore": True, "beforeCursor": ids[10], "afterCursor": ids[29]}
    first = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[before]": ids[10], "page[size]": "20"})
    assert ids_of(first) == ids[:10]
    assert first["meta"] == {"hasMore": False, "afterCursor": ids[9]}
    assert set(first["links"]) == {"next"}


def test_after_the_last_record_is_an_empty_page(emulator, sunshine_app, owner):
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[after]": owner["conversations"][-1]})
    assert page == {"conversations": [], "meta": {"hasMore": False}, "links": {}}


def test_an_unknown_cursor_gives_an_empty_page(emulator, sunshine_app, owner):
    """[I] a cursor naming no record of the list: nothing after (or before) it."""
    for which in ("after", "before"):
        page = listing(sunshine_app, **{"filter[userId]": owner["id"], f"page[{which}]": "f" * 24})
        assert page["conversations"] == [] and page["meta"]["hasMore"] is False


def test_a_short_list_is_one_page_without_links(emulator, sunshine_app, sunshine_conversation):
    page = listing(sunshine_app, **{"filter[userId]": sunshine_conversation.user.id})
    assert page == {"conversations": [page["conversations"][0]], "meta": {"hasMore": False}, "links": {}}


# --- the three encodings -------------------------------------------------------------------------------------


def test_bracket_and_json_encodings_agree(emulator, sunshine_app, owner):
    ids = owner["conversations"]
    brackets = listing(sunshine_app, **{"page[size]": "10", "page[after]": ids[4], "filter[userId]": owner["id"]})
    as_json = listing(
        sunshine_app, page=json.dumps({"after": ids[4], "size": 10}), filter=json.dumps({"userId": owner["id"]})
    )
    assert ids_of(brackets) == ids_of(as_json) == ids[5:15]
    assert brackets["meta"] == as_json["meta"] == {"hasMore": True, "afterCursor": ids[14], "beforeCursor": ids[5]}
    assert brackets["links"] == as_json["links"]


def test_the_python_client_17_query_exactly(emulator, sunshine_app, owner):
    """The bytes the official Python 17.0.1 client sends: `json.dumps` of each object, URL-escaped."""
    ids = owner["conversations"]
    page = "%7B%22after%22%3A%20%22" + ids[0] + "%22%2C%20%22size%22%3A%2010%7D"
    filters = "%7B%22userId%22%3A%20%22" + owner["id"] + "%22%7D"
    reply = emulator.request(
        "GET",
        f"{sunshine_app.path('conversations')}?page={page}&filter={filters}",
        headers=sunshine_app.basic_headers(),
    )
    assert reply.status == 200 and ids_of(reply.json()) == ids[1:11]


def test_the_first_key_only_page_size(emulator, sunshine_app, owner):
    """Node sends only the first key of `page`: `page[size]=10` with no cursor."""
    page = listing(sunshine_app, **{"page[size]": "10", "filter[userId]": owner["id"]})
    assert ids_of(page) == owner["conversations"][:10]
    assert page["meta"] == {"hasMore": True, "afterCursor": owner["conversations"][9]}


def test_the_first_key_only_cursor_uses_the_default_size(emulator, sunshine_app, owner):
    page = listing(sunshine_app, **{"page[after]": owner["conversations"][0], "filter[userId]": owner["id"]})
    assert ids_of(page) == owner["conversations"][1:26]


def test_a_json_filter_with_an_external_id(emulator, sunshine_app, owner):
    page = listing(
        sunshine_app, filter=json.dumps({"userExternalId": owner["externalId"]}), page=json.dumps({"size": 5})
    )
    assert ids_of(page) == owner["conversations"][:5]


@pytest.mark.parametrize("encoded", ["[1, 2]", '"text"', "{not json", "null"])
def test_a_json_page_that_is_not_an_object_is_refused(emulator, sunshine_app, sunshine_user, encoded):
    reply = sunshine_app.request("GET", "conversations", params={"filter[userId]": sunshine_user.id, "page": encoded})
    assert (reply.status, reply.json()) == (400, INVALID_PAGE)


def test_a_json_filter_that_is_not_an_object_is_refused(emulator, sunshine_app, sunshine_user):
    reply = sunshine_app.request("GET", "conversations", params={"filter": "[]"})
    assert reply.status == 400
    assert reply.json() == {"errors": [{"code": "bad_request", "title": "Invalid filter query parameters"}]}  # [I]


def test_a_filter_value_that_is_not_text_is_refused(emulator, sunshine_app, sunshine_user):
    reply = sunshine_app.request("GET", "conversations", params={"filter": json.dumps({"userId": 5})})
    assert reply.status == 400 and reply.json()["errors"][0]["code"] == "bad_request"


# --- walking the whole list -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 10, 25, 60])  # 10: the last page ends exactly on the last record
def test_walking_forwards_then_backwards_visits_every_record_once(emulator, sunshine_app, owner, size):
    ids = owner["conversations"]
    page = listing(sunshine_app, **{"filter[userId]": owner["id"], "page[size]": str(size)})
    forward, pages = ids_of(page), 1
    while "next" in page["links"]:
        assert page["meta"]["hasMore"] is True
        page = follow(emulator, sunshine_app, page["links"]["next"])
        forward += ids_of(page)
        pages += 1
    assert page["meta"]["hasMore"] is False
    assert forward == ids and pages == -(-len(ids) // size)

    last_page = ids_of(page)
    backward = []
    while "prev" in page["links"]:
        page = follow(emulator, sunshine_app, page["links"]["prev"])
        backward = ids_of(page) + backward
    assert page["meta"]["hasMore"] is False and "beforeCursor" not in page["meta"]
    assert backward + last_page == ids


def test_walking_with_json_cursors_as_the_python_client_does(emulator, sunshine_app, owner):
    ids, seen, cursor = owner["conversations"], [], None
    filters = json.dumps({"userId": owner["id"]})
    while True:
        page_query = {"size": 11, **({"after": cursor} if cursor else {})}
        page = listing(sunshine_app, page=json.dumps(page_query), filter=filters)
        seen += ids_of(page)
        if not page["meta"]["hasMore"]:
            break
        cursor = page["meta"]["afterCursor"]
    assert seen == ids and len(set(seen)) == 60
    back, cursor = [], ids[55]  # the last page of 11 holds ids[55:]; walk back from its first record
    while cursor is not None:
        page = listing(sunshine_app, page=json.dumps({"before": cursor, "size": 11}), filter=filters)
        back = ids_of(page) + back
        cursor = page["meta"].get("beforeCursor") if page["meta"]["hasMore"] else None
    assert back == ids[:55]


# --- other paginated lists --------------------------------------------------------------------------------------


def test_participants_page_like_conversations(emulator, sunshine_app):
    users = [
        created(sunshine_app.request("POST", "users", json={"externalId": f"p{n}-{secrets.token_hex(3)}"}), "user")
        for n in range(5)
    ]
    body = {"type": "sdkGroup", "participants": [{"userId": u["id"], "subscribeSDKClient": False} for u in users]}
    group = created(sunshine_app.request("POST", "conversations", json=body), "conversation")
    path = f"conversations/{group['id']}/participants"
    first = sunshine_app.request("GET", path, params={"page[size]": "2"}).json()
    assert [p["userId"] for p in first["participants"]] == [u["id"] for u in users[:2]]
    assert first["meta"]["hasMore"] is True and set(first["links"]) == {"next"}
    second = follow(emulator, sunshine_app, first["links"]["next"])
    assert [p["userId"] for p in second["participants"]] == [u["id"] for u in users[2:4]]
    both = sunshine_app.request("GET", path, params={"page[after]": "a" * 24, "page[before]": "b" * 24})
    assert (both.status, both.json()) == (400, INVALID_PAGE)


def test_links_escape_a_user_reference_in_the_path(emulator, sunshine_app):
    """A client list addressed by an externalId with `/`, space and non-ASCII: the link is a valid URL
    (`%2F` kept, space and `é` escaped) that leads to the next page."""
    external_id = f"a/b c+é{secrets.token_hex(2)}"
    escaped = quote(external_id, safe="")
    user = created(sunshine_app.request("POST", "users", json={"externalId": external_id}), "user")
    body = {"type": "personal", "participants": [{"userId": user["id"]}]}
    conversation = created(sunshine_app.request("POST", "conversations", json=body), "conversation")
    clients = []
    for n in range(3):
        link = {
            "matchCriteria": {"type": "twilio", "integrationId": "1" * 24, "phoneNumber": f"+1555000000{n}"},
            "confirmation": {"type": "immediate"},
            "target": {"conversationId": conversation["id"]},
        }
        clients.append(created(sunshine_app.request("POST", f"users/{escaped}/clients", json=link), "client")["id"])
    first = sunshine_app.request("GET", f"users/{escaped}/clients", params={"page[size]": "2"}).json()
    assert [c["id"] for c in first["clients"]] == clients[:2]
    next_link = first["links"]["next"]
    assert urlsplit(next_link).path == sunshine_app.path(f"users/{escaped}/clients").replace("%2B", "+")
    assert " " not in next_link and next_link.isascii()
    assert [c["id"] for c in follow(emulator, sunshine_app, next_link)["clients"]] == clients[2:]
