"""Mindbehind under fuzz: every provider route and every emulator-defined hook under /__emulator/mindbehind/.

test_fuzz.py's conventions hold (its helpers check the JSON): no exception escapes (`X-Emulator-Unhandled`),
no 5xx, every body is strict JSON, every refusal is exactly Mindbehind's `{"success": false, "message": <str>}`
and changes the state of no namespace (`export_state()` of all of them, before and after). The one
documented exception: a wrong SMS code spends one attempt of its code, and nothing else.

Requests name their targets by sentinels (`<web>`, `<web-token>`, ...) that are resolved against the state
just before each request is sent: a successful `rotate-token` changes a channel's token mid-run.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from test_fuzz import (
    HTTP_METHODS,
    content_types,
    header_text,
    json_values,
    raw_bodies,
    segments,
    short_text,
    strict_json,
)
from test_mindbehind import (
    BOT_REPLY,
    CLIENT_FIELDS,
    GET_CLIENT,
    HOOKS,
    HUMAN_ACTION,
    INCOMING_PATH,
    READ_CODE,
    SEND_CODE,
    SESSIONS,
    SET_KEY_VALUES,
    TOKEN_PATH,
    refused,
    seed_company,
)

from emulator.client import Reply
from emulator.pytest_plugin import EmulatorHandle, MindbehindChannel, MindbehindCode, MindbehindToken
from emulator.web import NAMESPACE_HEADER, UNHANDLED_HEADER

Json = Any
State = dict
MB_PREFIXES = ("/external/", "/live-core/", f"{HOOKS}/")

# sentinels, resolved against the state just before a request goes out
WEB, GENERIC, COMPANY = "<web>", "<generic>", "<company>"
WEB_TOKEN, GENERIC_TOKEN = "<web-token>", "<generic-token>"
CLIENT, CLIENT_TOKEN, PHONE = "<client>", "<client-token>", "<phone>"
MINE = "<my-namespace>"


# --- the world a fuzz test plays in -------------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: a webhook there fails at once with a connection error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class World:
    handle: EmulatorHandle
    web: MindbehindChannel
    generic: MindbehindChannel
    client: MindbehindToken
    code: MindbehindCode

    def everything(self) -> State:
        return self.handle.control.in_namespace("*").export_state()

    def names(self, state: State) -> dict[str, str]:
        """Sentinel -> its value now (management tokens change when a channel's token is rotated)."""
        companies = state["namespaces"][self.handle.namespace]["providers"]["mindbehind"]["companies"]

        def token_of(channel: MindbehindChannel) -> str:
            channels = companies[channel.company_id]["channels"]
            return next(c["management_token"] for c in channels if c["id"] == channel.channel_id)

        return {
            WEB: self.web.channel_id,
            GENERIC: self.generic.channel_id,
            COMPANY: self.web.company_id,
            WEB_TOKEN: token_of(self.web),
            GENERIC_TOKEN: token_of(self.generic),
            CLIENT: self.client.client_id,
            CLIENT_TOKEN: self.client.token,
            PHONE: self.code.phone,
            MINE: self.handle.namespace,
        }


@pytest.fixture
def world(
    emulator: EmulatorHandle,
    mindbehind_channel: MindbehindChannel,
    mindbehind_client_token: MindbehindToken,
    mindbehind_otp: MindbehindCode,
) -> World:
    hook = f"http://127.0.0.1:{closed_port()}/hook"
    generic = seed_company(emulator, {"type": "mindbehind", "send_webhook": hook, "handover_webhook": hook})[0]
    return World(emulator, mindbehind_channel, generic, mindbehind_client_token, mindbehind_otp)


# --- requests ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A body sent as these bytes, not as JSON."""

    data: bytes


NO_BODY = Raw(b"")


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # may hold a sentinel as a path segment
    body: Json | Raw = NO_BODY  # JSON values are sent as JSON (NaN and Infinity included), with a JSON Content-Type
    content_type: str | None = "application/json"
    api_token: str | None = None
    namespace: str | None = MINE
    params: Mapping[str, str] | None = None


def resolve(value: Json, names: Mapping[str, str]) -> Json:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, names) for key, item in value.items()}
    return value


def resolve_path(path: str, names: Mapping[str, str]) -> str:
    return "/".join(quote(names[part], safe="") if part in names else part for part in path.split("/"))


def check_reply(reply: Reply, path: str) -> Json:
    """The reply's JSON body, once it is an answer the emulator meant to give, in Mindbehind's shape."""
    assert UNHANDLED_HEADER not in reply.headers, (
        f"an exception escaped ({reply.headers[UNHANDLED_HEADER]}) on {path}: {reply.text[:300]}"
    )
    assert reply.status < 500, f"{reply.status} on {path}: {reply.text[:300]}"
    body = strict_json(reply.body)
    if reply.status >= 400:
        assert path.startswith(MB_PREFIXES), path
        assert isinstance(body, dict) and set(body) == {"success", "message"}, body
        assert body["success"] is False and isinstance(body["message"], str), body
    else:
        assert isinstance(body, dict), body
    return body


def codes(state: State) -> Iterator[tuple[tuple[str, str, str], dict]]:
    for name, namespace in state["namespaces"].items():
        for company_id, company in namespace["providers"]["mindbehind"]["companies"].items():
            for key, code in company["codes"].items():
                yield (name, company_id, key), code


def with_attempt_given_back(before: State, after: State) -> State | None:
    """`after` with one SMS code's attempt given back, if exactly one code lost exactly one attempt."""
    earlier = dict(codes(before))
    spent = [
        where
        for where, code in codes(after)
        if where in earlier and code["attempts_left"] == earlier[where]["attempts_left"] - 1
    ]
    if len(spent) != 1:
        return None
    name, company_id, key = spent[0]
    restored = copy.deepcopy(after)
    restored["namespaces"][name]["providers"]["mindbehind"]["companies"][company_id]["codes"][key]["attempts_left"] += 1
    return restored


def send(world: World, request: Request) -> tuple[Reply, Json]:
    """One request, its reply checked, and the state checked unchanged if it was refused."""
    before = world.everything()
    names = world.names(before)
    headers = {
        NAMESPACE_HEADER: resolve(request.namespace, names),
        "Content-Type": request.content_type,
        "apiToken": resolve(request.api_token, names),
    }
    data = request.body.data if isinstance(request.body, Raw) else json.dumps(resolve(request.body, names)).encode()
    path = resolve_path(request.path, names)
    reply = world.handle.transport.send(
        request.method,
        path,
        data=data,
        params=resolve(request.params, names),
        headers={key: value for key, value in headers.items() if value is not None},
    )
    body = check_reply(reply, path)
    if reply.status >= 400:
        after = world.everything()
        if after != before:
            assert (reply.status, body) == refused(401, "Wrong code"), (
                f"{request} was refused ({reply.status} {body}) yet changed state"
            )
            assert with_attempt_given_back(before, after) == before, "a wrong code changed more than its attempts"
            if currently_in_test_context():
                event("a wrong code spent an attempt")
    return reply, body


# --- routes ---------------------------------------------------------------------------------------------


def text_field(name: str) -> Field:
    return Field(name, lambda v: isinstance(v, str) and v != "", f"{name} is required (a non-empty string)")


@dataclass(frozen=True)
class Field:
    """A body field the route checks, and the refusal a bad value gets."""

    name: str
    valid: Callable[[Json], bool]
    message: str
    optional: bool = False


def is_key_values(value: Json) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("key"), str) for p in value)


TOKEN_AGE = Field(
    "tokenAge",
    lambda v: v is None or (type(v) is int and 1 <= v <= 100_000),
    "tokenAge is a positive whole number of hours",
    True,
)
PROPERTIES = Field("properties", lambda v: isinstance(v, dict), "properties is an object", True)
KEY_VALUES = Field("KeyValueProperties", is_key_values, "KeyValueProperties is a list of {key, value}")
AUTH = Field("auth", lambda v: v in ("token", "anonymous", "otp"), "auth is token, anonymous or otp")


@dataclass(frozen=True)
class Route:
    name: str
    request: Request
    success: tuple[int, frozenset[str]]  # status and body keys of a success
    fields: tuple[Field, ...] = ()  # in the order the route checks them

    @property
    def body(self) -> dict:
        assert isinstance(self.request.body, dict)
        return self.request.body


def route(
    name: str,
    method: str,
    path: str,
    success: tuple[int, set[str]],
    body: Json = NO_BODY,
    fields: tuple[Field, ...] = (),
    **kw: Any,
) -> Route:
    return Route(name, Request(method, path, body, **kw), (success[0], frozenset(success[1])), fields)


ENVELOPE = (200, {"success"})
ROUTES = (
    route(
        "client token",
        "POST",
        TOKEN_PATH,
        (200, {"success", "token"}),
        api_token=WEB_TOKEN,
        body={"clientID": CLIENT, "channelID": WEB, "tokenAge": 2, "properties": {"name": "Ada", "plan": "gold"}},
        fields=(text_field("channelID"), text_field("clientID"), TOKEN_AGE, PROPERTIES),
    ),
    route(
        "generic incoming",
        "POST",
        INCOMING_PATH,
        ENVELOPE,
        api_token=GENERIC_TOKEN,
        params={"channelID": GENERIC},
        body={"clientID": CLIENT, "message": {"type": "text", "text": "hi"}},
    ),
    route(
        "getClient",
        "GET",
        GET_CLIENT,
        (200, CLIENT_FIELDS),
        api_token=WEB_TOKEN,
        params={"clientID": CLIENT, "companyID": COMPANY},
    ),
    route(
        "setKeyValueProperties",
        "POST",
        SET_KEY_VALUES,
        (200, CLIENT_FIELDS),
        api_token=WEB_TOKEN,
        body={"clientID": CLIENT, "KeyValueProperties": [{"key": "plan", "value": "gold"}]},
        fields=(text_field("clientID"), KEY_VALUES),
    ),
    route(
        "token session",
        "POST",
        SESSIONS,
        (201, {"success", "session", "client"}),
        body={"channelID": WEB, "auth": "token", "MB_TOKEN": CLIENT_TOKEN, "MB_CLIENT": CLIENT},
        fields=(text_field("channelID"), AUTH, text_field("MB_TOKEN"), text_field("MB_CLIENT")),
    ),
    route(
        "anonymous session",
        "POST",
        SESSIONS,
        (201, {"success", "session", "client"}),
        body={"channelID": WEB, "auth": "anonymous"},
        fields=(text_field("channelID"), AUTH),
    ),
    route(
        "code session",
        "POST",
        SESSIONS,
        (201, {"success", "session", "client"}),
        body={"channelID": WEB, "auth": "otp", "phone": PHONE, "code": "000000"},
        fields=(text_field("channelID"), AUTH, text_field("phone"), text_field("code")),
    ),
    route(
        "send code",
        "POST",
        SEND_CODE,
        ENVELOPE,
        body={"channelID": WEB, "phone": PHONE},
        fields=(text_field("channelID"), text_field("phone")),
    ),
    route(
        "read code",
        "GET",
        READ_CODE,
        (200, {"code", "expires_at", "attempts_left"}),
        params={"channelID": WEB, "phone": PHONE},
    ),
    route(
        "bot reply",
        "POST",
        BOT_REPLY,
        (202, {"success", "delivery"}),
        body={"channelID": GENERIC, "clientID": CLIENT, "text": "hi"},
        fields=(text_field("channelID"), text_field("clientID")),
    ),
    route(
        "human action",
        "POST",
        HUMAN_ACTION,
        (202, {"success", "delivery"}),
        body={"channelID": GENERIC, "clientID": CLIENT, "reason": "agent"},
        fields=(text_field("channelID"), text_field("clientID")),
    ),
    route("rotate token", "POST", f"{HOOKS}/channels/{WEB}/rotate-token", (200, {"success", "management_token"})),
)
WITH_BODY_FIELDS = tuple(r for r in ROUTES if r.fields)
WITH_API_TOKEN = tuple(r for r in ROUTES if r.request.api_token is not None)


def assert_success_shape(route_: Route, reply: Reply, body: Json) -> None:
    status, keys = route_.success
    if reply.status < 400:
        assert (reply.status, set(body)) == (status, keys), f"{route_.name}: {reply.status} {body}"
        assert body.get("success", True) is True, body


# --- strategies -----------------------------------------------------------------------------------------

api_tokens = st.one_of(st.none(), st.sampled_from([WEB_TOKEN, GENERIC_TOKEN]), header_text)
namespaces = st.one_of(st.just(MINE), st.none(), header_text)
param_keys = st.sampled_from(["clientID", "companyID", "channelID", "phone", "clientid", "CompanyID"]) | short_text
param_values = st.sampled_from([WEB, GENERIC, COMPANY, CLIENT, PHONE, ""]) | header_text
garbage_params = st.dictionaries(param_keys, param_values, max_size=4)
raw = raw_bodies.map(Raw)


@st.composite
def mutated(draw: st.DrawFn, template: dict) -> dict:
    """The template with a few fields replaced, dropped, re-cased or added."""
    body = dict(template)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "drop", "recase", "add"]))
        key = draw(st.sampled_from(sorted(body))) if body else draw(short_text)
        if kind == "replace":
            body[key] = draw(json_values)
        elif kind == "drop":
            body.pop(key, None)
        elif kind == "recase":
            body[draw(st.sampled_from([key.lower(), key.upper(), key.swapcase()]))] = body.pop(key, None)
        else:
            body[draw(short_text)] = draw(json_values)
    return body


def garbage_bodies(own: Json | Raw) -> st.SearchStrategy[Json | Raw]:
    return st.one_of(mutated(own), json_values, raw) if isinstance(own, dict) else st.one_of(json_values, raw)


def garbage_segment(own: str) -> st.SearchStrategy[str]:
    """Another channel segment for a path that names one (rotate-token); the path as is otherwise."""
    if not own.endswith("/rotate-token"):
        return st.just(own)
    named = st.sampled_from([GENERIC, COMPANY]) | segments.map(lambda text: quote(text, safe=""))
    return named.map(lambda segment: f"{HOOKS}/channels/{segment}/rotate-token")


PARTS = ("method", "path", "body", "content_type", "api_token", "namespace", "params")


@st.composite
def any_request(draw: st.DrawFn) -> tuple[Route, Request]:
    """A route's template with up to three of its parts replaced by garbage."""
    route_ = draw(st.sampled_from(ROUTES))
    own = route_.request
    garbage = {
        "method": st.sampled_from(HTTP_METHODS),
        "path": garbage_segment(own.path),
        "body": garbage_bodies(own.body),
        "content_type": content_types,
        "api_token": api_tokens,
        "namespace": st.one_of(st.none(), header_text),
        "params": st.one_of(garbage_params, garbage_params.map(lambda extra: {**(own.params or {}), **extra})),
    }
    garbled = draw(st.sets(st.sampled_from(PARTS), max_size=3))
    parts = {part: draw(garbage[part]) if part in garbled else getattr(own, part) for part in PARTS}
    return route_, Request(**parts)


# --- tests ----------------------------------------------------------------------------------------------


@settings(max_examples=500)
@given(drawn=any_request())
def test_every_route_survives_any_request(world: World, drawn: tuple[Route, Request]) -> None:
    route_, request = drawn
    reply, body = send(world, request)
    event(f"{route_.name}: {reply.status}")
    if request.method == route_.request.method and request.path == route_.request.path:
        assert_success_shape(route_, reply, body)
    else:
        assert reply.status >= 400 or request.path.endswith("/rotate-token"), f"{request}: {reply.status} {body}"


def test_every_template_request_succeeds(world: World) -> None:
    """The fuzz starts from requests that work: each route's template is answered with its success."""
    for route_ in ROUTES:
        reply, body = send(world, route_.request)
        if route_.name == "code session":
            assert (reply.status, body) == refused(401, "Wrong code") or reply.status == 201
            continue
        assert_success_shape(route_, reply, body)
        assert reply.status < 400, f"{route_.name}: {reply.status} {body}"


@st.composite
def one_bad_field(draw: st.DrawFn) -> tuple[Route, Field, dict]:
    """A route's template with one checked field given a bad value, dropped, or re-cased when required."""
    route_ = draw(st.sampled_from(WITH_BODY_FIELDS))
    checked = draw(st.sampled_from(route_.fields))
    body = dict(route_.body)
    how = draw(st.sampled_from(["value"] if checked.optional else ["value", "drop", "recase"]))
    if how == "value":
        value = draw(json_values)
        assume(not checked.valid(value))
        body[checked.name] = value
    else:
        original = body.pop(checked.name)
        if how == "recase":
            body[draw(st.sampled_from(sorted({checked.name.lower(), checked.name.upper()} - {checked.name})))] = (
                original
            )
    return route_, checked, body


@settings(max_examples=200)
@given(drawn=one_bad_field())
def test_a_bad_value_in_any_checked_field_is_a_bad_request(world: World, drawn: tuple[Route, Field, dict]) -> None:
    route_, checked, body = drawn
    own = route_.request
    reply, answer = send(world, Request(own.method, own.path, body, api_token=own.api_token, params=own.params))
    assert (reply.status, answer) == refused(400, checked.message), (
        f"{route_.name} with {checked.name}={body.get(checked.name)!r}"
    )


@settings(max_examples=150)
@given(
    route_=st.sampled_from(WITH_API_TOKEN),
    token=st.one_of(st.none(), header_text),
    namespace=namespaces,
    content_type=st.one_of(st.just("application/json"), content_types),
)
def test_any_api_token_that_is_not_a_management_token_is_unauthorized(
    world: World, route_: Route, token: str | None, namespace: str | None, content_type: str | None
) -> None:
    own = route_.request
    request = Request(own.method, own.path, own.body, content_type, token, namespace, own.params)
    reply, body = send(world, request)
    if reply.status == 400 and namespace not in (MINE, None):
        # nothing else names the namespace (the body's channelID counts only as JSON), and the header is no name
        assert body["message"].startswith("invalid namespace name"), body
        return
    assert (reply.status, body) == refused(401, "Unauthorized"), f"{route_.name} with apiToken {token!r}"


@settings(max_examples=150)
@given(route_=st.sampled_from([r for r in ROUTES if r.request.params]), params=garbage_params, keep=st.booleans())
def test_any_query_is_answered_in_shape(world: World, route_: Route, params: dict[str, str], keep: bool) -> None:
    own = route_.request
    query = {**own.params, **params} if keep and own.params else params
    reply, body = send(world, Request(own.method, own.path, own.body, api_token=own.api_token, params=query))
    assert_success_shape(route_, reply, body)
    resolved = resolve(query, world.names(world.everything()))
    if route_.request.path == GET_CLIENT and not (resolved.get("clientID") and resolved.get("companyID")):
        assert (reply.status, body) == refused(400, "clientID and companyID are required")


@settings(max_examples=100)
@given(
    prefix=st.sampled_from(MB_PREFIXES),
    tail=st.lists(segments, min_size=1, max_size=3),
    method=st.sampled_from(HTTP_METHODS),
    body=st.one_of(json_values, raw),
)
def test_unknown_paths_are_answered_in_mindbehind_shape(
    world: World, prefix: str, tail: list[str], method: str, body: Json | Raw
) -> None:
    path = prefix + "/".join(quote(part, safe="") for part in tail)
    known = {r.request.path for r in ROUTES}
    assume(path not in known and not path.endswith("/rotate-token"))
    reply, answer = send(world, Request(method, path, body, api_token=WEB_TOKEN))
    assert reply.status in (404, 405), f"{method} {path}: {reply.status} {answer}"


# --- regressions found by these tests ----------------------------------------------------------------


DEEP = b"[" * 5_000 + b"]" * 5_000


def test_deeply_nested_json_is_a_bad_request(world: World) -> None:
    """JSON nested deeper than the recursion limit is a 400 on every POST that reads a body (the tenant
    lookup reads it first and must not crash on it either); rotate-token reads none."""
    crashed = []
    posts = {
        resolve_path(r.request.path, world.names(world.everything())) for r in ROUTES if r.request.method == "POST"
    }
    for path in sorted(p for p in posts if not p.endswith("/rotate-token")):
        headers = {"Content-Type": "application/json", NAMESPACE_HEADER: world.handle.namespace}
        reply = world.handle.transport.send("POST", path, data=DEEP, headers=headers)
        if UNHANDLED_HEADER in reply.headers or reply.status >= 500:
            crashed.append(f"{path}: {reply.status} {reply.headers.get(UNHANDLED_HEADER)}")
        else:
            assert (reply.status, check_reply(reply, path)) == refused(400, "the body is not valid JSON")
    assert not crashed, "deeply nested JSON crashed: " + "; ".join(crashed)


def test_deeply_nested_json_without_a_json_content_type_is_a_bad_request(world: World) -> None:
    """The same body, sent as text/plain, skips the hook's parsing and gets the route's 400."""
    own = ROUTES[0].request
    reply, body = send(world, Request(own.method, own.path, Raw(DEEP), "text/plain", own.api_token))
    assert (reply.status, body) == refused(400, "the body is not valid JSON")
