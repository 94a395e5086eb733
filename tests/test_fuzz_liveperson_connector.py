"""LivePerson Connector API under fuzz: CONVERSATION (an array of requests) and SEND (one request object).

Malformed arrays and objects (wrong types anywhere, missing fields, huge numbers, nested junk, bytes that are
no UTF-8, valid-looking entries mixed with invalid ones), garbled credentials, versions and
`Client-Properties` headers. Whatever comes back must be an answer the emulator meant to give:

- no exception escaped (`X-Emulator-Unhandled`), no status >= 500, no Python traceback in the body;
- strict JSON (no NaN / Infinity) with Content-Type application/json;
- a refusal is the Connector API's envelope `{"kind":"resp","code":N,"body":{"title","details","errorCode"},
  "type":".ReqBody$ErrorResp"}` with `code` = the HTTP status (401 with a 401xx/40001 errorCode, 400/404
  with status * 100), and it changes nothing in the namespace's exported state;
- a success has the documented shape (one `{"code":"OK","body","reqId"}` per request, or
  `{"reqId","code":"OK","body"}`), and the state stays exportable; the next example starts again from
  the world as it was built (the state exported then is imported back).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_fuzz import header_text, json_values, nasty, raw_bodies, strict_json

from emulator.client import Reply
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonConsumerJws
from emulator.web import UNHANDLED_HEADER

Json = Any
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
AUTH_CODES = {40001, 40102, 40103, 40104, 40105}
CLOSE_FIELD = {"field": "ConversationStateField", "conversationState": "CLOSE"}
MAX_EXAMPLES = 120  # each file's run stays well under 20 s on 2 cores


# --- the world -----------------------------------------------------------------------------------------


@dataclass
class World:
    handle: EmulatorHandle
    account: LivePersonAccount
    consumers: dict[str, LivePersonConsumerJws]  # "owner" (one closed and one open conversation), "other", "fresh"
    conversations: dict[str, str]  # "open", "closed" (the owner's), "foreign" (other's, open)
    baseline: dict

    def __repr__(self) -> str:
        return f"World(namespace={self.handle.namespace!r}, conversations={self.conversations})"

    def state(self) -> dict:
        return self.handle.control.export_state()["namespaces"][self.handle.namespace]

    def restore(self) -> None:
        self.handle.control.import_state({"namespaces": {self.handle.namespace: copy.deepcopy(self.baseline)}})

    def path(self, route: str) -> str:
        tail = "/send" if route == "send" else ""
        return f"/api/account/{self.account.id}/messaging/consumer/conversation{tail}"


def _ok(reply: Reply) -> Json:
    assert reply.status == 200, f"setting up the world: {reply.status} {reply.text}"
    return reply.json()


@pytest.fixture
def world(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_consumer_jws: LivePersonConsumerJws
) -> Iterator[World]:
    other, fresh = lp_consumer_jws.app_jwt.issue_consumer_jws(), lp_consumer_jws.app_jwt.issue_consumer_jws()
    consumers = {"owner": lp_consumer_jws, "other": other, "fresh": fresh}
    world = World(emulator, lp_account, consumers, {}, {})
    conversation = world.path("conversation")

    def open_for(jws: LivePersonConsumerJws) -> str:
        body = [valid_entry("profile", world), valid_entry("request", world)]
        answers = _ok(emulator.post(conversation, json=body, params={"v": "3"}, headers=jws.headers()))
        return answers[1]["body"]["conversationId"]

    world.conversations["closed"] = open_for(lp_consumer_jws)
    send = world.path("send")
    _ok(
        emulator.post(
            send, json=valid_entry("close", world, "closed"), params={"v": "3"}, headers=lp_consumer_jws.headers()
        )
    )
    world.conversations["open"] = open_for(lp_consumer_jws)
    _ok(emulator.post(send, json=valid_entry("text", world), params={"v": "3"}, headers=lp_consumer_jws.headers()))
    world.conversations["foreign"] = open_for(other)
    world.baseline = world.state()
    yield world


# --- strategies ----------------------------------------------------------------------------------------


def valid_entry(kind: str, world: World, conversation: str = "open", req_id: Json = "1") -> dict:
    """A request the routes take (CONVERSATION: profile, request; SEND: text, typing, accept, close)."""
    dialog = world.conversations.get(conversation, conversation)
    bodies = {
        "profile": (
            "userprofile.SetUserProfile",
            {"authenticatedData": {"lp_sdes": [{"type": "ctmrinfo", "info": {"ctype": "vip"}}]}},
        ),
        "request": (
            "cm.ConsumerRequestConversation",
            {"brandId": world.account.id, "skillId": "-1", "conversationContext": {"lang": "en-US"}},
        ),
        "text": (
            "ms.PublishEvent",
            {"dialogId": dialog, "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}},
        ),
        "typing": (
            "ms.PublishEvent",
            {"dialogId": dialog, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
        ),
        "accept": (
            "ms.PublishEvent",
            {"dialogId": dialog, "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]}},
        ),
        "close": ("cm.UpdateConversationField", {"conversationId": dialog, "conversationField": CLOSE_FIELD}),
    }
    kind_name, body = bodies[kind]
    return {"kind": "req", "id": req_id, "type": kind_name, "body": body}


def weighted(*choices: tuple[int, st.SearchStrategy[Json]]) -> st.SearchStrategy[Json]:
    """`one_of` with weights: each strategy as often as its count says."""
    return st.one_of(*(strategy for count, strategy in choices for _ in range(count)))


junk = st.one_of(nasty, json_values, st.integers(min_value=-(10**300), max_value=10**300), st.floats(allow_nan=True))
req_ids = weighted((4, st.text(max_size=8)), (3, st.integers()), (1, junk))


def paths_of(value: Json, prefix: tuple = ()) -> list[tuple]:
    """Every position inside a JSON value, the value itself first."""
    found = [prefix]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found += paths_of(item, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, entry: Json) -> Json:
    """`entry` with one to three positions replaced by junk, deleted, or wrapped in junk nesting."""
    entry = copy.deepcopy(entry)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths_of(entry)))
        action = draw(st.sampled_from(["replace", "delete", "nest"]))
        if not path:
            entry = draw(junk) if action != "nest" else [entry]
            continue
        parent = entry
        for key in path[:-1]:
            parent = parent[key]
        if action == "delete":
            del parent[path[-1]]
        elif action == "nest":
            parent[path[-1]] = draw(
                st.sampled_from([[parent[path[-1]]], {"x": parent[path[-1]]}, [[[[[[[parent[path[-1]]]]]]]]]])
            )
        else:
            parent[path[-1]] = draw(junk)
        if not isinstance(entry, (dict, list)):
            break
    return entry


def valid_entries(world: World, kinds: tuple[str, ...]) -> st.SearchStrategy[dict]:
    """Requests that would work, mostly on the owner's open conversation (or on others, refused)."""
    conversation = st.sampled_from(["open", "open", "open", "closed", "foreign", "nope"])
    return st.builds(
        lambda kind, where, req_id: valid_entry(kind, world, where, req_id),
        st.sampled_from(kinds),
        conversation,
        req_ids,
    )


def entries(world: World, kinds: tuple[str, ...]) -> st.SearchStrategy[Json]:
    """Mostly valid requests, some mutated ones, a few that are junk altogether."""
    valid = valid_entries(world, kinds)
    return weighted((6, valid), (3, valid.flatmap(mutated)), (1, junk))


def raw(value: Json) -> bytes:
    return json.dumps(value).encode()  # Python's json: NaN and Infinity go out as such, for the server to refuse


def conversation_bodies(world: World) -> st.SearchStrategy[bytes]:
    """Arrays of (mostly valid-looking) requests, arrays mutated as a whole, and bodies that are no array."""
    kinds = ("profile", "request")
    valid = st.lists(valid_entries(world, kinds), min_size=1, max_size=3)
    arrays = st.lists(entries(world, kinds), min_size=1, max_size=5)
    return weighted(
        (4, valid.map(raw)), (3, arrays.map(raw)), (1, arrays.flatmap(mutated).map(raw)), (1, raw_bodies), (1, non_utf8)
    )


def send_bodies(world: World) -> st.SearchStrategy[bytes]:
    """Request objects (mostly valid-looking), arrays of them, and bodies that are no object."""
    kinds = ("text", "typing", "accept", "close")
    objects = entries(world, kinds)
    return weighted(
        (3, valid_entries(world, kinds).map(raw)),
        (4, objects.map(raw)),
        (1, st.lists(objects, max_size=2).map(raw)),
        (1, raw_bodies),
        (1, non_utf8),
    )


non_utf8 = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([b'[{"kind":"req","id":"', b'{"kind":"req","id":"1","type":"', b"\xef\xbb\xbf[", b""]),
    st.sampled_from([b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b'\xf4\x90\x80\x80"}]']),
)


@dataclass(frozen=True)
class Credentials:
    headers: dict[str, str]
    genuine: bool  # both headers are a live AppJWT and ConsumerJWS of the account


def credentials(world: World) -> st.SearchStrategy[Credentials]:
    genuine = st.sampled_from(sorted(world.consumers)).map(
        lambda who: Credentials(world.consumers[who].headers(), True)
    )
    app, jws = world.consumers["owner"].app_jwt.token, world.consumers["owner"].token
    token_or_junk = st.one_of(
        st.sampled_from([app, jws, "", " ", "Bearer ", f"Bearer {jws}", jws[:-4], app + "x"]), header_text
    )

    def garble(authorization: str | None, on_behalf: str | None) -> Credentials:
        headers = {k: v for k, v in (("Authorization", authorization), ("X-LP-ON-BEHALF", on_behalf)) if v is not None}
        given_app = re.sub(r"(?i)^bearer\s+", "", (authorization or "").strip())
        return Credentials(headers, given_app == app and (on_behalf or "").strip() == jws)

    garbled = st.builds(garble, st.none() | token_or_junk, st.none() | token_or_junk)
    return st.one_of(genuine, genuine, genuine, garbled)


def extra_headers() -> st.SearchStrategy[dict[str, str]]:
    properties = st.one_of(
        st.just('{"type":".ClientProperties","features":["AUTO_MESSAGES"]}'), header_text, st.just("[]")
    )
    return st.one_of(st.just({}), st.just({}), properties.map(lambda p: {"Client-Properties": p}))


versions = st.one_of(
    st.just({"v": "3"}), st.just({"v": "3"}), st.just({"v": "3"}), st.just({}), header_text.map(lambda v: {"v": v})
)


# --- what a sane reply is ------------------------------------------------------------------------------


def assert_envelope(status: int, body: Json) -> None:
    assert isinstance(body, dict) and set(body) == {"kind", "code", "body", "type"}, body
    assert (body["kind"], body["code"], body["type"]) == ("resp", status, ".ReqBody$ErrorResp"), body
    detail = body["body"]
    assert isinstance(detail, dict) and set(detail) == {"title", "details", "errorCode"}, body
    assert isinstance(detail["title"], str) and isinstance(detail["details"], str), body
    assert detail["errorCode"] in (AUTH_CODES if status == 401 else {status * 100}), body


def assert_success(route: str, body: Json) -> None:
    if route == "send":
        assert isinstance(body, dict) and set(body) == {"reqId", "code", "body"} and body["code"] == "OK", body
        assert isinstance(body["reqId"], str) and (body["body"] == {} or set(body["body"]) == {"sequence"}), body
        return
    assert isinstance(body, list) and body, body
    for answer in body:
        assert (
            set(answer) == {"code", "body", "reqId"} and answer["code"] == "OK" and isinstance(answer["reqId"], str)
        ), body
        assert answer["body"] == {"msg": "OK User Profile set successfully"} or set(answer["body"]) == {
            "conversationId"
        }, body


def call(world: World, route: str, data: bytes, headers: dict[str, str], params: dict[str, str]) -> tuple[Reply, Json]:
    """One request; its reply checked for sanity and, when refused, the state checked unchanged."""
    before = world.state()
    if before != world.baseline:
        world.restore()
        before = world.state()
    reply = world.handle.post(
        world.path(route), data=data, headers={"Content-Type": "application/json", **headers}, params=params
    )
    what = f"{route} {data[:200]!r}"
    assert UNHANDLED_HEADER not in reply.headers, (
        f"an exception escaped ({reply.headers[UNHANDLED_HEADER]}) on {what}: {reply.text[:300]}"
    )
    assert reply.status < 500, f"{reply.status} on {what}: {reply.text[:300]}"
    assert not TRACEBACK.search(reply.text), f"a traceback in the body on {what}: {reply.text[:300]}"
    assert reply.headers.get("Content-Type", "").split(";")[0] == "application/json", reply.headers.get("Content-Type")
    body = strict_json(reply.body)
    after = world.state()  # exportable, whatever happened
    if reply.status >= 400:
        assert_envelope(reply.status, body)
        assert after == before, f"{what} was refused ({reply.status}) yet changed state"
    else:
        assert reply.status == 200, reply.text
        assert_success(route, body)
    return reply, body


# --- fuzz tests ----------------------------------------------------------------------------------------


def test_the_world_is_answered(world: World) -> None:
    """The fuzz starts from requests that work."""
    fresh = world.consumers["fresh"].headers()
    body = raw([valid_entry("profile", world), valid_entry("request", world, req_id=2)])
    reply, answers = call(world, "conversation", body, fresh, {"v": "3"})
    assert reply.status == 200 and [a["reqId"] for a in answers] == ["1", "2"]
    owner = world.consumers["owner"].headers()
    for kind in ("text", "typing", "accept", "close"):
        assert call(world, "send", raw(valid_entry(kind, world)), owner, {"v": "3"})[0].status == 200, kind


@settings(max_examples=MAX_EXAMPLES)
@given(data=st.data())
def test_malformed_conversation_arrays(world: World, data: st.DataObject) -> None:
    who = data.draw(st.sampled_from(["owner", "owner", "other", "fresh"]), label="consumer")
    reply, _ = call(
        world,
        "conversation",
        data.draw(conversation_bodies(world), label="body"),
        world.consumers[who].headers(),
        {"v": "3"},
    )
    event(f"{who}: {reply.status}")


@settings(max_examples=MAX_EXAMPLES)
@given(data=st.data())
def test_malformed_send_objects(world: World, data: st.DataObject) -> None:
    who = data.draw(st.sampled_from(["owner", "owner", "other", "fresh"]), label="consumer")
    reply, _ = call(
        world, "send", data.draw(send_bodies(world), label="body"), world.consumers[who].headers(), {"v": "3"}
    )
    event(f"{who}: {reply.status}")


@settings(max_examples=MAX_EXAMPLES)
@given(data=st.data())
def test_any_mix_of_malformed_parts(world: World, data: st.DataObject) -> None:
    """Credentials, version, Client-Properties and body garbled together, on either route."""
    route = data.draw(st.sampled_from(["conversation", "send"]), label="route")
    body = data.draw(conversation_bodies(world) if route == "conversation" else send_bodies(world), label="body")
    credential = data.draw(credentials(world), label="credentials")
    headers = {**credential.headers, **data.draw(extra_headers(), label="extra headers")}
    reply, _ = call(world, route, body, headers, data.draw(versions, label="query"))
    event(f"{route}: {reply.status}")
    if not credential.genuine:
        assert reply.status == 401, f"{credential} was let through: {reply.status}"
