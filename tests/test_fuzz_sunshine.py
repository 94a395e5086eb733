"""Sunshine Conversations v2 under fuzz: every route, at both prefixes (`/v2` and `/sc/v2`).

Malformed bodies, queries, path segments and credentials are thrown at each route of routes.py. Whatever
comes back must be an answer the emulator meant to give (test_fuzz.py's conventions):

- no exception escaped (`X-Emulator-Unhandled`), no status >= 500, no Python traceback in the body;
- the body is strict JSON (RFC 8259: no NaN or Infinity) with Content-Type application/json, and a
  refusal (status >= 400) is exactly Sunshine's envelope `{"errors": [{"code": str, "title": str}]}`;
- a refusal changes no namespace's state (`export_state()` of every namespace, before and after). The one
  documented change: a JWT that authenticates is remembered by the token lifecycle on its first use,
  even when the call it carried is refused later (403, 404, 400...), never when the token is refused (401);
- the state stays exportable after any request;
- forged or tampered credentials are refused (401, or 403 for a genuine key of another app or scope);
- a body, JWT header or JWT payload that is no RFC 8259 JSON (Python's NaN and Infinity) is refused as
  any other that does not parse: the provider's JSON parser knows neither;
- oversized bodies (> 100 kB) are 413, bodies that are no JSON object 400, bad `page` queries 400.

Each example starts from the same world: a successful request (a DELETE, a POST) is undone by importing
the state exported when the world was built.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import re
import secrets
import socket
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from test_fuzz import b64url, content_types, header_text, json_values, raw_bodies, segments, short_text, strict_json

from emulator.client import EmulatorError, Reply
from emulator.core.lifecycle import fingerprint
from emulator.providers.sunshine.routes import PREFIXES as SUNSHINE_PREFIXES
from emulator.pytest_plugin import EmulatorHandle, SunshineConversation
from emulator.web import NAMESPACE_HEADER, UNHANDLED_HEADER

Json = Any
State = dict
PREFIXES = ("/v2", "/sc/v2")  # api.smooch.io and {subdomain}.zendesk.com/sc
BODY_LIMIT = 100 * 1024
EMAIL = "fuzz@example.com"
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
HEX = "0123456789abcdef"


# --- what a sane reply is -------------------------------------------------------------------------


def assert_envelope(body: Json) -> None:
    assert isinstance(body, dict) and set(body) == {"errors"}, f"not Sunshine's error envelope: {body}"
    errors = body["errors"]
    assert isinstance(errors, list) and errors, body
    for error in errors:
        assert isinstance(error, dict) and set(error) == {"code", "title"}, body
        assert isinstance(error["code"], str) and isinstance(error["title"], str), body


def check_reply(reply: Reply, what: str, envelope: Callable[[Json], None] = assert_envelope) -> Json:
    """The reply's JSON body, once it is an answer the emulator meant to give, its refusals in `envelope`."""
    assert UNHANDLED_HEADER not in reply.headers, (
        f"an exception escaped ({reply.headers[UNHANDLED_HEADER]}) on {what}: {reply.text[:300]}"
    )
    assert reply.status < 500, f"{reply.status} on {what}: {reply.text[:300]}"
    assert not TRACEBACK.search(reply.text), f"a traceback in the body on {what}: {reply.text[:300]}"
    mimetype = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert mimetype == "application/json", f"Content-Type {reply.headers.get('Content-Type')!r} on {what}"
    body = strict_json(reply.body)
    if reply.status >= 400:
        envelope(body)
    else:
        assert isinstance(body, dict), f"{reply.status} on {what}: {body}"
    return body


def error_code(body: Json) -> str | None:
    """The first error's code; None for an answer that is no refusal."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors[0]["code"] if errors else None


# --- the world a fuzz test plays in -------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    id: str
    secret: str
    scope: str  # the scope a JWT signed with it must claim


GENUINE = ("app", "account", "integration")  # keys of the world's app and of its account
OTHERS = ("other_app", "foreign_app", "foreign_account", "unknown")  # another app's key, another namespace's, none


@dataclass(repr=False)
class World:
    handle: EmulatorHandle
    foreign: str  # another namespace, with an app and an account key of its own
    ids: dict[str, str]  # placeholder -> id
    keys: dict[str, Key]
    now: float
    baseline: State = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"World(namespace={self.handle.namespace!r}, ids={self.ids})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' reports: not the whole baseline
        printer.text(repr(self))

    def everything(self) -> State:
        return self.handle.control.in_namespace("*").export_state()

    def restore(self) -> None:
        mine = {name: self.baseline["namespaces"][name] for name in (self.handle.namespace, self.foreign)}
        self.handle.control.import_state({"namespaces": copy.deepcopy(mine)})

    def fresh(self) -> State:
        """The state before a request: the baseline, restored if an earlier request changed it."""
        state = self.everything()
        if state != self.baseline:
            self.restore()
            state = self.everything()
        return state

    def basic(self, name: str) -> str:
        key = self.keys[name]
        return basic_header(f"{key.id}:{key.secret}".encode())

    def resolve(self, value: Json) -> Json:
        return resolve_placeholders(value, self.ids)


PLACEHOLDER = re.compile(r"\{(\w+)\}")


def resolve_placeholders(value: Json, ids: Mapping[str, str]) -> Json:
    """`"{user}"` and the like -> the world's ids, in strings, lists and objects."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: ids.get(m[1], m[0]), value)
    if isinstance(value, list):
        return [resolve_placeholders(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: resolve_placeholders(item, ids) for key, item in value.items()}
    return value


def basic_header(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


def created(reply: Reply, wrapper: str) -> dict:
    assert reply.status == 201, f"setting up the world: {reply.status} {reply.text}"
    return reply.json()[wrapper]


def fresh_hex() -> str:
    return secrets.token_hex(12)


@pytest.fixture
def world(emulator: EmulatorHandle, sunshine_conversation: SunshineConversation) -> Iterator[World]:
    """The fixture's app, user and personal conversation, plus one of everything else a route can name."""
    user = sunshine_conversation.user
    app = user.app
    account = app.basic_headers(account=True)
    integration = created(
        app.request(
            "POST",
            "integrations",
            json={"type": "custom", "webhooks": [{"target": "https://example.com/hook", "triggers": ["*"]}]},
        ),
        "integration",
    )
    int_key = created(
        app.request("POST", f"integrations/{integration['id']}/keys", json={"displayName": "fuzz"}), "key"
    )
    switchboard = created(app.request("POST", "switchboards"), "switchboard")
    members = f"switchboards/{switchboard['id']}/switchboardIntegrations"
    default = created(
        app.request("POST", members, json={"name": "bot", "integrationId": integration["id"]}), "switchboardIntegration"
    )
    spare = created(
        app.request("POST", members, json={"name": "desk", "integrationType": "zd:agentWorkspace"}),
        "switchboardIntegration",
    )
    enabled = app.request(
        "PATCH",
        f"switchboards/{switchboard['id']}",
        json={"enabled": True, "defaultSwitchboardIntegrationId": default["id"]},
    )
    assert enabled.status == 200, enabled.text
    app_key = created(app.request("POST", "keys", json={"displayName": "spare"}, headers=account), "key")
    user2 = created(app.request("POST", "users", json={"externalId": f"second-{fresh_hex()}"}), "user")
    group = created(
        app.request(
            "POST",
            "conversations",
            json={"type": "sdkGroup", "participants": [{"userId": user.id, "subscribeSDKClient": False}]},
        ),
        "conversation",
    )
    message = created(
        app.request(
            "POST",
            f"conversations/{sunshine_conversation.id}/messages",
            json={"author": {"type": "business"}, "content": {"type": "text", "text": "hello"}},
        ),
        "messages",
    )[0]
    client = created(
        app.request(
            "POST",
            f"users/{user.id}/clients",
            json={
                "matchCriteria": {"type": "twilio", "integrationId": integration["id"], "phoneNumber": "+15550100"},
                "confirmation": {"type": "immediate"},
                "target": {"conversationId": sunshine_conversation.id},
            },
        ),
        "client",
    )

    # a device and an email identity: no API route makes them, the state import does
    sdk_client, device = fresh_hex(), fresh_hex()
    state = emulator.control.export_state()
    stored = state["namespaces"][emulator.namespace]["providers"]["sunshine"]["apps"][app.id]["users"][user.id]
    stored["clients"].append(
        {
            "id": sdk_client,
            "type": "sdk",
            "status": "active",
            "devices": [
                {"id": device, "guid": "guid-1", "clientId": sdk_client, "lastSeen": "2024-05-01T10:00:00.000Z"}
            ],
        }
    )
    stored["identities"].append({"type": "email", "value": EMAIL})
    stored["zendeskId"] = ZENDESK_ID
    emulator.control.import_state(state)

    other_app, other_key = fresh_hex(), Key(f"app_{fresh_hex()}", secrets.token_urlsafe(18), "app")
    emulator.control.seed(
        {"sunshine": {"apps": [{"id": other_app, "keys": [{"id": other_key.id, "secret": other_key.secret}]}]}}
    )
    foreign = f"{emulator.namespace}-far"
    foreign_app = Key(f"app_{fresh_hex()}", secrets.token_urlsafe(18), "app")
    foreign_account = Key(f"act_{fresh_hex()}", secrets.token_urlsafe(18), "account")
    emulator.control.in_namespace(foreign).seed(
        {
            "sunshine": {
                "apps": [{"id": fresh_hex(), "keys": [{"id": foreign_app.id, "secret": foreign_app.secret}]}],
                "account_keys": [{"id": foreign_account.id, "secret": foreign_account.secret}],
            }
        }
    )
    ids = {
        "app": app.id,
        "appkey": app_key["id"],
        "integration": integration["id"],
        "intkey": int_key["id"],
        "webhook": integration["webhooks"][0]["id"],
        "user": user.id,
        "user2": user2["id"],
        "external": user.external_id,
        "client": client["id"],
        "device": device,
        "conversation": sunshine_conversation.id,
        "group": group["id"],
        "message": message["id"],
        "other_app": other_app,
        "switchboard": switchboard["id"],
        "member": spare["id"],
        "zendesk": ZENDESK_ID,
    }
    keys = {
        "app": Key(app.key_id, app.secret, "app"),
        "account": Key(app.account_key_id, app.account_secret, "account"),
        "integration": Key(int_key["id"], int_key["secret"], "integration"),
        "other_app": other_key,
        "foreign_app": foreign_app,
        "foreign_account": foreign_account,
        "unknown": Key(f"app_{fresh_hex()}", secrets.token_urlsafe(18), "app"),
    }
    built = World(emulator, foreign, ids, keys, emulator.control.now().timestamp())
    built.baseline = built.everything()
    try:
        yield built
    finally:
        emulator.control.in_namespace(foreign).reset()


# --- routes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    template: str  # after the prefix, with {placeholders} for the world's ids
    who: str = "app"  # whose Basic credentials the template request carries
    body: Json = None  # the template body; None for a route that reads none
    params: tuple[tuple[str, str], ...] = ()
    status: int = 200

    @property
    def reads_body(self) -> bool:
        return self.body is not None

    @property
    def placeholders(self) -> list[str]:
        return PLACEHOLDER.findall(self.template)

    @property
    def names_app(self) -> bool:
        return "{app}" in self.template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


INTEGRATION_BODY = {
    "type": "custom",
    "displayName": "Fuzz",
    "webhooks": [{"target": "https://example.com/two", "triggers": ["conversation:message"]}],
}
CLIENT_BODY = {
    "matchCriteria": {"type": "whatsapp", "integrationId": "{integration}", "phoneNumber": "+15550199"},
    "confirmation": {"type": "immediate"},
    "target": {"conversationId": "{conversation}"},
}
APPLE_REF = {
    "url": "https://p61-content.icloud.com/ref",
    "bid": "com.apple.messages",
    "key": "00c0",
    "signature": "81a6",
    "owner": "M58C",
}
ZENDESK_ID = "35436"
A = "/apps/{app}"
INTEGRATION = A + "/integrations/{integration}"
U = A + "/users/{user}"
C = A + "/conversations/{conversation}"
S = A + "/switchboards/{switchboard}"
ROUTES = (
    Route(
        "create app", "POST", "/apps", "account", {"displayName": "Fuzz app", "metadata": {"tier": "gold"}}, status=201
    ),
    Route("list apps", "GET", "/apps", "account"),
    Route("get app", "GET", A),
    Route(
        "update app",
        "PATCH",
        A,
        body={"displayName": "Renamed", "settings": {"multiConvoEnabled": True}, "metadata": {"tier": "gold"}},
    ),
    Route("delete app", "DELETE", A, "account"),
    Route("create app key", "POST", A + "/keys", "account", {"displayName": "key"}, status=201),
    Route("list app keys", "GET", A + "/keys", "account"),
    Route("get app key", "GET", A + "/keys/{appkey}", "account"),
    Route("delete app key", "DELETE", A + "/keys/{appkey}", "account"),
    Route("create integration", "POST", A + "/integrations", body=INTEGRATION_BODY, status=201),
    Route("list integrations", "GET", A + "/integrations"),
    Route("get integration", "GET", INTEGRATION),
    Route("update integration", "PATCH", INTEGRATION, body={"displayName": "Renamed"}),
    Route("delete integration", "DELETE", INTEGRATION),
    Route("create integration key", "POST", INTEGRATION + "/keys", body={"displayName": "key"}, status=201),
    Route("list integration keys", "GET", INTEGRATION + "/keys"),
    Route("get integration key", "GET", INTEGRATION + "/keys/{intkey}"),
    Route("delete integration key", "DELETE", INTEGRATION + "/keys/{intkey}"),
    Route(
        "create webhook",
        "POST",
        INTEGRATION + "/webhooks",
        body={"target": "https://example.com/three", "triggers": ["*"]},
        status=201,
    ),
    Route("list webhooks", "GET", INTEGRATION + "/webhooks"),
    Route("get webhook", "GET", INTEGRATION + "/webhooks/{webhook}"),
    Route(
        "update webhook",
        "PATCH",
        INTEGRATION + "/webhooks/{webhook}",
        body={"triggers": ["conversation:read"], "includeFullUser": True},
    ),
    Route("delete webhook", "DELETE", INTEGRATION + "/webhooks/{webhook}"),
    Route(
        "create user",
        "POST",
        A + "/users",
        body={"externalId": "fuzz-new", "profile": {"givenName": "Ada"}, "metadata": {"plan": "gold"}},
        status=201,
    ),
    Route("list users", "GET", A + "/users", params=(("filter[identities.email]", EMAIL),)),
    Route("get user", "GET", U),
    Route("update user", "PATCH", U, body={"profile": {"surname": "Lovelace"}, "metadata": {"plan": "silver"}}),
    Route("delete user", "DELETE", U),
    Route("delete personal information", "DELETE", U + "/personalinformation"),
    Route("link client", "POST", U + "/clients", body=CLIENT_BODY, status=201),
    Route("list clients", "GET", U + "/clients"),
    Route("remove client", "DELETE", U + "/clients/{client}"),
    Route("sync user", "POST", A + "/users/{zendesk}/sync"),
    Route("list devices", "GET", U + "/devices"),
    Route("get device", "GET", U + "/devices/{device}"),
    Route(
        "create conversation",
        "POST",
        A + "/conversations",
        body={
            "type": "sdkGroup",
            "displayName": "Group",
            "participants": [{"userId": "{user2}", "subscribeSDKClient": True}],
        },
        status=201,
    ),
    Route("list conversations", "GET", A + "/conversations", params=(("filter[userId]", "{user}"),)),
    Route("get conversation", "GET", C),
    Route("update conversation", "PATCH", C, body={"displayName": "Renamed", "metadata": {"lang": "en"}}),
    Route("delete conversation", "DELETE", A + "/conversations/{group}"),
    Route(
        "join",
        "POST",
        A + "/conversations/{group}/join",
        body={"userId": "{user2}", "subscribeSDKClient": False},
        status=201,
    ),
    Route("leave", "POST", A + "/conversations/{group}/leave", body={"userId": "{user}"}),
    Route("list participants", "GET", C + "/participants"),
    Route("download", "POST", C + "/download", body={"userId": "{user}", "apple": {"interactiveDataRef": APPLE_REF}}),
    Route(
        "conversion events",
        "POST",
        C + "/conversionEvents",
        body={"instagram": {"payload": {"data": [{"event_name": "Fuzz"}]}}},
    ),
    Route(
        "post message",
        "POST",
        C + "/messages",
        body={
            "author": {"type": "user", "userId": "{user}"},
            "content": {"type": "text", "text": "hi"},
            "metadata": {"lang": "en"},
        },
        status=201,
    ),
    Route("list messages", "GET", C + "/messages"),
    Route("delete all messages", "DELETE", C + "/messages"),
    Route("delete message", "DELETE", C + "/messages/{message}"),
    Route("activity", "POST", C + "/activity", body={"author": {"type": "business"}, "type": "conversation:read"}),
    Route("create switchboard", "POST", A + "/switchboards", status=400),  # the world's app holds its one switchboard
    Route("list switchboards", "GET", A + "/switchboards"),
    Route("update switchboard", "PATCH", S, body={"enabled": True, "defaultSwitchboardIntegrationId": "{member}"}),
    Route("delete switchboard", "DELETE", S),
    Route(
        "create switchboard integration",
        "POST",
        S + "/switchboardIntegrations",
        body={"name": "new", "integrationType": "partner", "deliverStandbyEvents": False},
        status=201,
    ),
    Route("list switchboard integrations", "GET", S + "/switchboardIntegrations"),
    Route(
        "update switchboard integration",
        "PATCH",
        S + "/switchboardIntegrations/{member}",
        body={"name": "renamed", "messageHistoryCount": 3},
    ),
    Route("delete switchboard integration", "DELETE", S + "/switchboardIntegrations/{member}"),
    Route(
        "pass control",
        "POST",
        C + "/passControl",
        body={"switchboardIntegration": "desk", "metadata": {"why": "human"}},
    ),
    Route("offer control", "POST", C + "/offerControl", body={"switchboardIntegration": "next"}),
    Route("accept control", "POST", C + "/acceptControl", body={"metadata": {"ok": True}}),
    Route("release control", "POST", C + "/releaseControl", body={}),
)
BODY_ROUTES = tuple(r for r in ROUTES if r.reads_body)
PATH_ROUTES = tuple(r for r in ROUTES if r.placeholders)
LISTINGS = tuple(r for r in ROUTES if r.name.startswith("list "))


# --- requests -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent: percent-encoding is the caller's
    body: bytes | None = None
    content_type: str | None = "application/json"
    authorization: str | None = None
    query: str | None = None  # as sent (already encoded)

    def __str__(self) -> str:
        body = (
            ""
            if self.body is None
            else f" body={self.body[:120]!r}{'...' if len(self.body) > 120 else ''} ({len(self.body)} bytes)"
        )
        query = f"?{self.query[:200]}" if self.query else ""
        return f"{self.method} {self.path[:300]}{query}{body} content-type={self.content_type!r} authorization={(self.authorization or '')[:200]!r}"


def bearer_token(authorization: str | None) -> str | None:
    """The token a Bearer header carries, as the emulator reads it."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def forgetting(state: State, token: str) -> State:
    """`state` without the token lifecycle's memory of `token` (a JWT remembered on its first use)."""
    key = fingerprint(token)
    out = copy.deepcopy(state)
    for namespace in out["namespaces"].values():
        tokens = namespace.get("tokens", {})
        if key in tokens.get("issued", {}):
            sequence = tokens["issued"].pop(key)[0]
            if tokens.get("last_sequence") == sequence:
                tokens["last_sequence"] = sequence - 1
    return out


def send(world: World, request: Request) -> tuple[Reply, Json]:
    """One request, its reply checked, the state checked exportable and, if it was refused, unchanged."""
    before = world.fresh()
    headers = {} if request.content_type is None else {"Content-Type": request.content_type}
    if request.authorization is not None:
        headers["Authorization"] = request.authorization
    reply = world.handle.request(request.method, request.path, data=request.body, headers=headers, params=request.query)  # type: ignore[arg-type]
    body = check_reply(reply, str(request))
    try:
        after = world.everything()
    except EmulatorError as exc:
        world.restore()  # the next example starts from a state that exports
        raise AssertionError(f"the state cannot be exported after {request} ({reply.status}): {exc}") from None
    if reply.status >= 400 and after != before:
        token = bearer_token(request.authorization)
        remembered = token is not None and reply.status != 401 and fingerprint(token) not in str(before)
        assert remembered and forgetting(after, token) == before, (
            f"{request} was refused ({reply.status} {body}) yet changed state"
        )
    return reply, body


def template_path(world: World, route: Route, prefix: str = "/v2", ids: Mapping[str, str] | None = None) -> str:
    chosen = {**world.ids, **(ids or {})}
    return prefix + PLACEHOLDER.sub(
        lambda m: chosen[m[1]] if ids and m[1] in ids else quote(chosen[m[1]], safe=""), route.template
    )


def template_query(world: World, route: Route) -> str | None:
    return "&".join(f"{quote(k, safe='[]')}={quote(world.resolve(v), safe='')}" for k, v in route.params) or None


def template_request(world: World, route: Route, prefix: str = "/v2", **changes: Any) -> Request:
    body = None if route.body is None else json.dumps(world.resolve(route.body)).encode()
    request = Request(
        route.method,
        template_path(world, route, prefix),
        body,
        "application/json",
        world.basic(route.who),
        template_query(world, route),
    )
    return Request(**{**request.__dict__, **changes})


# --- strategies: bodies ---------------------------------------------------------------------------------

MARKER = re.compile(r'"@@(deep-list|deep-object|huge):(\d+)@@"')


def expand_markers(text: str) -> str:
    """Markers stand for what would make hypothesis' reports unreadable: deep nesting and huge strings."""

    def expand(match: re.Match) -> str:
        kind, size = match[1], int(match[2])
        if kind == "deep-list":
            return "[" * size + "]" * size
        if kind == "deep-object":
            return '{"a":' * size + "null" + "}" * size
        return json.dumps("x" * size)

    return MARKER.sub(expand, text)


def encode(value: Json) -> bytes:
    return expand_markers(json.dumps(value)).encode()


deep = st.builds(
    lambda kind, depth: f"@@{kind}:{depth}@@",
    st.sampled_from(["deep-list", "deep-object"]),
    st.sampled_from([2, 50, 254, 300, 900, 3000, 50_000]) | st.integers(1, 1200),
)
huge = st.one_of(
    st.sampled_from([4_097, 50_000, BODY_LIMIT - 100, BODY_LIMIT + 1, 250_000]), st.integers(100, 200_000)
).map(lambda n: f"@@huge:{n}@@")
bad_values = st.one_of(
    json_values,
    deep,
    huge,
    st.sampled_from([[], {}, [{}], "", " ", 0, -1, 10**30, True, None, float("nan"), float("inf")]).map(copy.deepcopy),
)
object_keys = st.one_of(
    short_text,
    st.sampled_from(["__proto__", "constructor", "$where", "id", "type", "", " ", "a.b", "author", "content"]),
)


def key_paths(value: Json, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside objects and arrays of `value` (the root excluded)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from key_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield prefix + (index,)
            yield from key_paths(item, prefix + (index,))


def containers(value: Json, prefix: tuple = ()) -> Iterator[tuple]:
    """Paths to every object inside `value`, the root included."""
    if isinstance(value, dict):
        yield prefix
        for key, item in value.items():
            yield from containers(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from containers(item, prefix + (index,))


def at(value: Json, path: tuple) -> Json:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated(draw: st.DrawFn, template: Json) -> Json:
    """The template with one to three values anywhere in it replaced, wrapped in arrays, dropped or added."""
    body = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(key_paths(body))
        kind = draw(st.sampled_from(["replace", "wrap", "drop", "add", "recase"] if paths else ["add"]))
        if kind == "add":
            holder = at(body, draw(st.sampled_from(list(containers(body))))) if isinstance(body, dict) else None
            if isinstance(holder, dict):
                holder[draw(object_keys)] = draw(bad_values)
            continue
        path = draw(st.sampled_from(paths))
        parent, last = at(body, path[:-1]), path[-1]
        if kind == "replace":
            parent[last] = draw(bad_values)
        elif kind == "wrap":  # an array where an object (or a scalar) belongs
            parent[last] = [parent[last]]
        elif kind == "drop":
            parent.pop(last)
        elif isinstance(parent, dict) and isinstance(last, str) and last.swapcase() != last:
            parent[last.swapcase()] = parent.pop(last)
    return body


@st.composite
def with_non_json_number(draw: st.DrawFn, template: Json) -> Json:
    """The template with one value, or a new field, NaN or Infinity: Python's JSON, not RFC 8259's."""
    body = copy.deepcopy(template)
    number = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
    paths = list(key_paths(body))
    if paths and draw(st.booleans()):
        path = draw(st.sampled_from(paths))
        at(body, path[:-1])[path[-1]] = number
    else:
        at(body, draw(st.sampled_from(list(containers(body)))))[draw(st.sampled_from(["extra", "metadata", "x"]))] = (
            number
        )
    return body


def json_bodies(template: Json) -> st.SearchStrategy[bytes]:
    own = template if template is not None else {}
    return st.one_of(
        mutated(own).map(encode),
        with_non_json_number(own).map(encode),
        json_values.map(lambda v: json.dumps(v).encode()),  # JSON of the wrong type, NaN and Infinity included
        st.just(own).map(lambda t: encode([t])),  # an array instead of the object
        deep.map(encode),  # nesting at the top
        huge.map(lambda h: encode({**own, "padding": h})),  # the right body, padded past 100 kB or not
        st.integers(BODY_LIMIT - 10, BODY_LIMIT + 4096).map(lambda n: b"{" + b" " * n + b"}"),
    )


def raw_body_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        raw_bodies,  # not JSON, bad encodings, BOMs, duplicate keys...
        st.sampled_from(
            [b"", b"{", b'{"a":', b"NaN", b"[1,]", b'{"a":1}{"b":2}', b"\xff" * 10, b"{'a': 1}", b'{"a": 1e99999}']
        ),
        st.integers(BODY_LIMIT - 10, 250_000).map(lambda n: b"x" * n),  # huge and not JSON
    )


def bodies(template: Json) -> st.SearchStrategy[bytes | None]:
    return st.one_of(json_bodies(template), raw_body_bytes(), st.none())


def is_python_json_object(raw: bytes | None) -> bool:
    """A JSON object as the emulator's parser sees it (Python's: NaN and Infinity accepted)."""
    try:
        return isinstance(json.loads(raw or b"null"), dict)
    except (ValueError, RecursionError):
        return False


# --- strategies: queries ----------------------------------------------------------------------------------

RAW_ESCAPES = (
    "%ff",
    "%FF",
    "%00",
    "%",
    "%zz",
    "%c3%28",
    "%ed%a0%80",
    "%f0%9f%98",
    "%2",
    "%%",
    "%25",
    "+",
    "%2B",
    "%5B",
    "%5D",
    "%26",
    "%3D",
)
PAGE_KEYS = (
    "page[size]",
    "page[after]",
    "page[before]",
    "page",
    "page[]",
    "page[size",
    "page[[size]]",
    "PAGE[size]",
    "page[ size]",
    "page[size][x]",
)
FILTER_KEYS = (
    "filter",
    "filter[userId]",
    "filter[userExternalId]",
    "filter[identities.email]",
    "filter[]",
    "filter[userId][x]",
    "filter[identities]",
)
SIZES = (
    "0",
    "1",
    "25",
    "100",
    "101",
    "-1",
    "+5",
    " 5",
    "5 ",
    "1e2",
    "0x10",
    "\u0661\u0660",
    "\u00b2",
    "9" * 30,
    "",
    "abc",
    "null",
    "5.0",
    "\x00",
    "010",
)
IDS = ("{user}", "{user2}", "{external}", "{conversation}", "{group}", "{message}", "{integration}", "{client}")


def quoted(text: str) -> str:
    return quote(text, safe="")


cursors = st.one_of(
    st.sampled_from(IDS),
    st.text(HEX, min_size=23, max_size=25),
    st.text(string.ascii_letters + string.digits + "-_", min_size=24, max_size=24),
    header_text,
    st.integers(200, 5000).map(lambda n: "a" * n),
)
page_objects = st.fixed_dictionaries(
    {},
    optional={
        "after": cursors | json_values,
        "before": cursors | json_values,
        "size": st.sampled_from(SIZES) | json_values,
    },
)
filter_objects = st.fixed_dictionaries(
    {},
    optional={
        "userId": st.sampled_from(IDS) | json_values,
        "userExternalId": st.sampled_from(IDS) | json_values,
        "identities.email": st.just(EMAIL) | json_values,
    },
)
json_texts = st.one_of(
    page_objects.map(json.dumps),
    filter_objects.map(json.dumps),
    json_values.map(json.dumps),
    short_text,
    st.integers(100, 5000).map(lambda n: "[" * n),
    st.sampled_from(["{", "{}", "[]", "null", '{"size": NaN}', '{"size": 1e999}', '{"after": "x", "after": 5}']),
)
query_values = st.one_of(st.sampled_from(SIZES), cursors, json_texts, st.sampled_from(IDS), st.just(EMAIL))


@st.composite
def query_pairs(draw: st.DrawFn, world: World) -> list[str]:
    """`key=value` pairs, encoded as sent; a few with raw percent garbage."""
    pairs = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(PAGE_KEYS + FILTER_KEYS) | short_text)
        value = world.resolve(draw(query_values))
        encoded_key = quote(key, safe="[]") if draw(st.booleans()) else quoted(key)
        encoded_value = draw(st.sampled_from(RAW_ESCAPES)) if draw(st.integers(0, 5)) == 0 else quoted(value)
        pairs.append(f"{encoded_key}={encoded_value}")
    if draw(st.integers(0, 6)) == 0:
        pairs.append(
            draw(
                st.sampled_from(
                    [
                        "&",
                        "=",
                        "==",
                        "page",
                        "page[size]",
                        "&&page[size]=5",
                        "a=%ff%fe",
                        ";",
                        "page[size]=1;page[size]=2",
                    ]
                )
            )
        )
    return pairs


# --- strategies: path segments ------------------------------------------------------------------------

NASTY_SEGMENTS = (
    "%ff",
    "%FF",
    "%00",
    "a%00b",
    "%2F",
    "%2f",
    "a%2Fb",
    "%2F%2F",
    "%",
    "%zz",
    "%c3%28",
    "%ed%a0%80",
    "%f0%9f%98",
    "%e2%82",
    "..",
    ".",
    "%2e%2e",
    "%2E",
    "%252F",
    "%25",
    "+",
    "%20",
    "%09",
    "%0A",
    "%0d%0a",
    "me",
    "%u0041",
    "~",
    "null",
    "undefined",
    "0",
    "-1",
    "%7B%7D",
    "%5B%5D",
    "{user}",
    "%3F",
    "%23",
    "%3Fx%3D1",
    "%C0%AF",
    "%E0%80%AF",
)
garbage_segments = st.one_of(
    st.sampled_from(NASTY_SEGMENTS),
    st.lists(st.sampled_from(NASTY_SEGMENTS + ("a", "f", "0", "%41")), min_size=1, max_size=8).map("".join),
    segments.map(quoted),  # any text, '/' and '' included, encoded
    st.integers(200, 6_000).map(lambda n: "a" * n),
    st.integers(100, 400).map(lambda n: "%ff" * n),
    st.text(HEX, min_size=24, max_size=24),  # an id of the right shape that names nothing
)


@st.composite
def garbled_path(draw: st.DrawFn, world: World, route: Route) -> str:
    prefix = draw(st.sampled_from(PREFIXES))
    replaced: dict[str, str] = {}
    for placeholder in draw(st.sets(st.sampled_from(route.placeholders), min_size=1)):
        own = world.ids[placeholder]
        replaced[placeholder] = draw(
            st.one_of(
                garbage_segments,
                st.sampled_from(sorted(set(world.ids.values()) - {own})),  # an id of another kind, or of the other app
                st.sampled_from(
                    [
                        own.upper(),
                        own[:-1],
                        own + "0",
                        quoted(own) + "%00",
                        own + "%2F",
                        "%" + own,
                        own.replace("a", "%61"),
                    ]
                ),
            )
        )
    path = template_path(world, route, prefix, replaced)
    tail = draw(st.sampled_from(["", "", "", "/", "//", "/x", "/%ff", "/..", "/keys", "/messages"]))
    return path + tail


# --- strategies: credentials ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    header: str | None
    refused: bool | None  # True: forged or tampered, must be answered 401 or 403; None: either may be right
    what: str


def jwt_segments(header: Json, payload: bytes, secret: bytes | None, alg: str = "HS256") -> str:
    header_segment = b64url(header if isinstance(header, bytes) else json.dumps(header).encode())
    signing_input = f"{header_segment}.{b64url(payload)}"
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signature = (
        b"" if secret is None else hmac.new(secret, signing_input.encode(), digests.get(alg, hashlib.sha256)).digest()
    )
    return f"{signing_input}.{b64url(signature)}"


def genuine_jwt(key: Key, **claims: Json) -> str:
    return jwt_segments(
        {"alg": "HS256", "kid": key.id, "typ": "JWT"},
        json.dumps({"scope": key.scope, **claims}).encode(),
        key.secret.encode(),
    )


def works_here(name: str, route: Route) -> bool:
    """A key that authenticates on this route: the world's, or the foreign account's where no app is named
    (`/v2/apps` finds its namespace by the key)."""
    return name in GENUINE or (name == "foreign_account" and not route.names_app)


def is_strict_json(raw: bytes) -> bool:
    def refuse(constant: str) -> Json:
        raise ValueError(constant)

    try:
        json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return True


def is_number(value: Json) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Json) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def times_hold(claims: dict, now: float) -> bool:
    """exp and nbf, when present, are JSON numbers (finite) with exp ahead of now and nbf behind it."""
    exp, nbf = claims.get("exp"), claims.get("nbf")
    exp_holds = exp is None or (is_number(exp) and is_finite(exp) and exp > now + 60)
    nbf_holds = nbf is None or (is_number(nbf) and is_finite(nbf) and nbf < now - 60)
    return exp_holds and nbf_holds


# relative times ("in", seconds) are resolved against the world's clock
TIME_VALUES = (
    ("in", -86_400),
    ("in", 86_400),
    ("in", 0),
    0,
    -1,
    1,
    10**400,
    -(10**400),
    2**63,
    -(2**63),
    1e308,
    -1e308,
    1e12,
    1e9,
    float("nan"),
    float("inf"),
    float("-inf"),
    "1e12",
    "",
    "tomorrow",
    True,
    False,
    [],
    {},
    [1e12],
    {"$date": 1},
)
SCOPES = (
    "<own>",
    "app",
    "account",
    "integration",
    "user",
    "appUser",
    "APP",
    "",
    "app ",
    None,
    1,
    1.5,
    True,
    [],
    {},
    ["app"],
    {"app": 1},
    ["<own>"],
)
ALGS = (
    "HS256",
    "none",
    "None",
    "NONE",
    "HS384",
    "HS512",
    "RS256",
    "ES256",
    "hs256",
    "HS256 ",
    "",
    None,
    1,
    [],
    {"a": 1},
)
KIDS = ("<own>", "<missing>", None, 1, 0, [], {}, True, "", " ", "<other>", "x" * 5000, "app_", "act_\u00ff")


@st.composite
def signed_jwts(draw: st.DrawFn, world: World, route: Route) -> Credential:
    """A JWT built piece by piece: signer, header (alg, kid), claims (scope, exp, nbf, extras), signature."""
    signer_name = draw(st.sampled_from(GENUINE + OTHERS))
    signer = world.keys[signer_name]
    alg = draw(st.sampled_from(ALGS) | st.just("HS256"))
    kid_choice = draw(st.sampled_from(KIDS) | st.just("<own>"))
    if kid_choice == "<own>":
        kid: Json = signer.id
    elif kid_choice == "<other>":
        kid = world.keys[draw(st.sampled_from(sorted(set(world.keys) - {signer_name})))].id
    else:
        kid = kid_choice
    header: dict = {"alg": alg, "typ": "JWT"} if alg is not None or draw(st.booleans()) else {"typ": "JWT"}
    if kid_choice != "<missing>":
        header["kid"] = kid
    extras = draw(
        st.sampled_from(
            [
                {},
                {},
                {},
                {"crit": ["exp"]},
                {"b64": False},
                {"jku": "http://127.0.0.1:1/keys"},
                {"typ": 5},
                {"cty": "JWT"},
            ]
        )
    )
    header.update(extras)

    scope = draw(st.sampled_from(SCOPES))
    scope = signer.scope if scope == "<own>" else [signer.scope] if scope == ["<own>"] else scope
    claims: dict = {} if draw(st.integers(0, 9)) == 0 else {"scope": scope}
    for name in draw(st.sets(st.sampled_from(["exp", "nbf", "iat"]), max_size=3)):
        value = draw(st.sampled_from(TIME_VALUES))
        claims[name] = world.now + value[1] if isinstance(value, tuple) else value
    for _ in range(draw(st.integers(0, 2))):
        claims[draw(short_text)] = draw(json_values)
    payload = json.dumps(claims).encode()

    signature = draw(st.sampled_from(["right", "right", "right", "wrong-secret", "none", "other-key"]))
    if signature == "none":
        token = jwt_segments(header, payload, None)
    else:
        secret = {
            "right": signer.secret,
            "wrong-secret": signer.secret + "x",
            "other-key": world.keys["app" if signer_name != "app" else "account"].secret,
        }[signature]
        token = jwt_segments(header, payload, secret.encode(), alg if isinstance(alg, str) else "HS256")

    authentic = (
        works_here(signer_name, route)
        and alg == "HS256"
        and kid_choice == "<own>"
        and signature == "right"
        and type(claims.get("scope")) is str
        and claims["scope"] == signer.scope
        and times_hold(claims, world.now)
        and is_strict_json(payload)
    )
    what = f"JWT signer={signer_name} alg={alg!r} kid={kid_choice!r} extras={extras} signature={signature} claims={payload[:200]!r}"
    # header extras (crit, b64, jku...) may make a right token wrong, never a wrong token right
    return Credential("Bearer " + token, None if authentic and extras else not authentic, what)


@st.composite
def claims_jwts(draw: st.DrawFn, world: World, route: Route) -> Credential:
    """A right header and signature over claims of any shape: scope and times of every JSON type."""
    name = draw(st.sampled_from(GENUINE))
    key = world.keys[name]
    scope = draw(st.sampled_from(SCOPES) | json_values)
    claims: dict = {"scope": key.scope if scope == "<own>" else [key.scope] if scope == ["<own>"] else scope}
    for time_claim in draw(st.sets(st.sampled_from(["exp", "nbf"]), max_size=2)):
        value = draw(st.sampled_from(TIME_VALUES) | json_values)
        claims[time_claim] = (
            world.now + value[1] if isinstance(value, tuple) and len(value) == 2 and value[0] == "in" else value
        )
    payload = json.dumps(claims).encode()
    token = jwt_segments({"alg": "HS256", "kid": key.id, "typ": "JWT"}, payload, key.secret.encode())
    authentic = (
        works_here(name, route)
        and type(claims["scope"]) is str
        and claims["scope"] == key.scope
        and times_hold(claims, world.now)
        and is_strict_json(payload)
    )
    return Credential("Bearer " + token, not authentic, f"JWT of the {name} key with claims {payload[:200]!r}")


@st.composite
def odd_jwts(draw: st.DrawFn, world: World, route: Route) -> Credential:
    """Tokens that are not JWS at all, or whose header or payload is no JSON object."""
    key = world.keys[draw(st.sampled_from(GENUINE))]
    shape = draw(st.sampled_from(["header", "payload", "segments", "random"]))
    right_header = {"alg": "HS256", "kid": key.id}
    right_payload = json.dumps({"scope": key.scope}).encode()
    if shape == "header":  # a header that is no object, or no JSON
        header = draw(
            json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())
            | st.binary(max_size=40)
            | st.integers(100, 5000).map(lambda n: b"[" * n + b"]" * n)
            | st.just(b'{"alg": "HS256", "kid": "' + key.id.encode() + b'", "x": NaN}')
        )
        token = jwt_segments(header, right_payload, key.secret.encode())
    elif shape == "payload":  # signed with the right key, but the payload is no object, or no JSON
        payload = draw(
            json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())
            | st.binary(max_size=40)
            | st.integers(100, 50_000).map(lambda n: b"[" * n + b"]" * n)
            | st.sampled_from([b"", b"{", b'"app"', b"null", b"\xff\xfe{}", b'{"scope": "app"'])
        )
        token = jwt_segments(right_header, payload, key.secret.encode())
    elif shape == "segments":
        good = genuine_jwt(key)
        token = draw(
            st.sampled_from(
                [
                    good + ".",
                    good + ".x",
                    "." + good,
                    good.replace(".", "..", 1),
                    good.split(".")[0],
                    ".".join(good.split(".")[:2]),
                    "..",
                    ".",
                    "....",
                ]
            )
        )
    else:
        token = draw(
            header_text
            | st.lists(
                st.text(string.ascii_letters + string.digits + "-_=+/", max_size=30), min_size=1, max_size=5
            ).map(".".join)
        )
    return Credential("Bearer " + token, True, f"odd JWT ({shape}): {token[:120]!r}")


def flip(token: str, index: int) -> str:
    """Another base64url character in the middle of segment `index` (never the last, whose low bits may pad)."""
    parts = token.split(".")
    part = parts[index]
    middle = len(part) // 2
    parts[index] = part[:middle] + ("A" if part[middle] != "A" else "B") + part[middle + 1 :]
    return ".".join(parts)


@st.composite
def tampered_jwts(draw: st.DrawFn, world: World, route: Route) -> Credential:
    name = draw(st.sampled_from(GENUINE))
    key = world.keys[name]
    good = genuine_jwt(key, exp=int(world.now) + 86_400)
    header, payload, signature = good.split(".")
    other = genuine_jwt(world.keys["account" if name != "account" else "app"], exp=int(world.now) + 86_400)
    how = draw(
        st.sampled_from(
            [
                "flip-header",
                "flip-payload",
                "flip-signature",
                "truncate",
                "other-payload",
                "other-signature",
                "space",
                "upper",
                "no-signature",
            ]
        )
    )
    token = {
        "flip-header": lambda: flip(good, 0),
        "flip-payload": lambda: flip(good, 1),
        "flip-signature": lambda: flip(good, 2),
        "truncate": lambda: good[: -draw(st.integers(1, len(signature)))],
        "other-payload": lambda: f"{header}.{other.split('.')[1]}.{signature}",
        "other-signature": lambda: f"{header}.{payload}.{other.split('.')[2]}",
        "space": lambda: f"{header}. {payload}.{signature}",
        "upper": lambda: good.upper(),
        "no-signature": lambda: f"{header}.{payload}.",
    }[how]()
    return Credential("Bearer " + token, True, f"tampered JWT of the {name} key ({how})")


@st.composite
def basics(draw: st.DrawFn, world: World, route: Route) -> Credential:
    name = draw(st.sampled_from(GENUINE + OTHERS))
    key = world.keys[name]
    scheme = draw(st.sampled_from(["Basic", "basic", "BASIC"]))
    space = draw(st.sampled_from([" ", " ", "  "]))
    right = f"{key.id}:{key.secret}".encode()
    how = draw(
        st.sampled_from(
            [
                "right",
                "right",
                "wrong-secret",
                "no-colon",
                "empty-id",
                "empty-secret",
                "non-utf8",
                "bad-base64",
                "unpadded",
                "urlsafe",
                "random",
                "tab",
            ]
        )
    )
    if how == "right":
        encoded = base64.b64encode(right).decode()
    elif how == "wrong-secret":
        encoded = base64.b64encode(
            f"{key.id}:{draw(st.sampled_from([key.secret + 'x', key.secret[:-1], key.secret.swapcase(), ' ' + key.secret]))}".encode()
        ).decode()
    elif how == "no-colon":
        encoded = base64.b64encode(
            draw(st.sampled_from([key.id.encode(), right.replace(b":", b""), right.replace(b":", b";")]))
        ).decode()
    elif how == "empty-id":
        encoded = base64.b64encode(f":{key.secret}".encode()).decode()
    elif how == "empty-secret":
        encoded = base64.b64encode(f"{key.id}:".encode()).decode()
    elif how == "non-utf8":
        encoded = base64.b64encode(
            draw(
                st.sampled_from(
                    [b"\xff\xfe:" + key.secret.encode(), key.id.encode() + b":\xff", right + b"\xc3", b"\xed\xa0\x80:x"]
                )
            )
        ).decode()
    elif how == "bad-base64":
        encoded = draw(
            st.sampled_from(
                [
                    "!!!!",
                    "abc",
                    "a===",
                    "====",
                    "\u00ff\u00fe",
                    base64.b64encode(right).decode() + "*",
                    "Zm9v:YmFy",
                    "%41%42",
                ]
            )
        )
    elif how == "unpadded":
        encoded = base64.b64encode(right).decode().rstrip("=")
        assume(encoded != base64.b64encode(right).decode())
    elif how == "urlsafe":
        encoded = base64.urlsafe_b64encode(right).decode()
        assume(encoded != base64.b64encode(right).decode())
    elif how == "random":
        encoded = base64.b64encode(draw(st.binary(max_size=60))).decode()
    else:
        encoded, space = base64.b64encode(right).decode(), "\t"
    refused = not (how == "right" and works_here(name, route))
    return Credential(f"{scheme}{space}{encoded}", refused, f"Basic {how} of the {name} key")


garbage_headers = st.one_of(
    st.sampled_from(
        [
            None,
            "",
            " ",
            "Basic",
            "Basic ",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Token abc",
            "Digest x",
            "JWT x",
            "null",
            "Basic Og==",
            "Bearer null",
        ]
    ),
    header_text,
    st.builds(
        lambda scheme, rest: f"{scheme} {rest}",
        st.sampled_from(["Basic", "Bearer", "basic", "bearer", "Negotiate", "Bearer Bearer"]),
        header_text,
    ),
)


def credentials(world: World, route: Route) -> st.SearchStrategy[Credential]:
    return st.one_of(
        garbage_headers.map(lambda header: Credential(header, True, f"garbage {header!r}")),
        basics(world, route),
        signed_jwts(world, route),
        claims_jwts(world, route),
        odd_jwts(world, route),
        tampered_jwts(world, route),
    )


def assert_refused_credentials(credential: Credential, reply: Reply, body: Json, request: Request) -> None:
    if credential.refused is True:
        assert reply.status in (401, 403), f"{credential.what} was let through: {reply.status} {body} on {request}"
        assert error_code(body) in ("invalid_auth", "unauthorized", "forbidden"), body


# --- fuzz tests -----------------------------------------------------------------------------------------


# multipart uploads, removals of what they made, and OAuth token info: tests/test_sunshine_attachments.py
# and tests/test_sunshine_oauth.py check their bodies, credentials and errors
NOT_FUZZED_HERE = ("/attachments", "/attachments/remove", "/tokenInfo")


def test_every_route_is_fuzzed(emulator_app: Any) -> None:
    """ROUTES names every Sunshine v2 rule, and both prefixes serve each of them (the SDK routes are fuzzed
    in test_sunshine_sdk.py)."""
    served = set()
    v2 = tuple(prefix + "/" for prefix in SUNSHINE_PREFIXES)
    for rule in emulator_app.url_map.iter_rules():
        if rule.endpoint.startswith("sunshine.") and rule.rule.startswith(v2):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                served.add((method, re.sub(r"<[^>]+>", "{}", rule.rule)))
    served = {(method, rule) for method, rule in served if not rule.endswith(NOT_FUZZED_HERE)}
    fuzzed = {(r.method, prefix + PLACEHOLDER.sub("{}", r.template)) for r in ROUTES for prefix in PREFIXES}
    assert fuzzed <= served, sorted(fuzzed - served)

    def tail(rule: str) -> str:
        return rule[len(max((p for p in SUNSHINE_PREFIXES if rule.startswith(p + "/")), key=len)) :]

    assert {(method, tail(rule)) for method, rule in served} == {
        (r.method, PLACEHOLDER.sub("{}", r.template)) for r in ROUTES
    }


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_template_request_succeeds(world: World, prefix: str) -> None:
    """The fuzz starts from requests that work: each route's template is answered with its success."""
    for route in ROUTES:
        reply, body = send(world, template_request(world, route, prefix))
        assert reply.status == route.status, f"{route}: {reply.status} {body}"


@settings(max_examples=120)
@given(data=st.data())
def test_malformed_bodies(world: World, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    raw = data.draw(bodies(world.resolve(route.body)), label="body")
    content_type = data.draw(
        st.sampled_from(["application/json"] * 3 + ["application/json; charset=utf-8"]) | content_types,
        label="content type",
    )
    request = template_request(world, route, data.draw(st.sampled_from(PREFIXES)), body=raw, content_type=content_type)
    reply, body = send(world, request)
    event(f"{route.name}: {reply.status}")
    if route.reads_body and len(raw or b"") > BODY_LIMIT:
        assert reply.status == 413, f"{len(raw or b'')} bytes on {route}: {reply.status} {body}"
    elif route.reads_body and not is_python_json_object(raw):
        assert reply.status == 400, f"{request}: {reply.status} {body}"
    elif route.reads_body and not is_strict_json(raw or b""):  # NaN, Infinity: the provider's JSON parser refuses them
        assert reply.status == 400, f"a body that is no RFC 8259 JSON was taken: {request}: {reply.status} {body}"


@settings(max_examples=80)
@given(data=st.data())
def test_malformed_queries(world: World, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(LISTINGS) | st.sampled_from(ROUTES), label="route")
    keep = data.draw(st.booleans(), label="keep the template's query")
    pairs = data.draw(query_pairs(world), label="pairs")
    own = template_query(world, route) if keep else None
    query = "&".join(([own] if own else []) + pairs) or None
    request = template_request(world, route, data.draw(st.sampled_from(PREFIXES)), query=query)
    reply, _ = send(world, request)
    event(f"{route.name}: {reply.status}")


@settings(max_examples=80)
@given(data=st.data())
def test_malformed_path_segments(world: World, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(PATH_ROUTES), label="route")
    path = data.draw(garbled_path(world, route), label="path")
    reply, _ = send(world, template_request(world, route, path=path))
    event(f"{route.name}: {reply.status}")


@settings(max_examples=200)
@given(data=st.data())
def test_malformed_credentials(world: World, data: st.DataObject) -> None:
    route = data.draw(st.sampled_from(ROUTES), label="route")
    credential = data.draw(credentials(world, route), label="credential")
    request = template_request(world, route, data.draw(st.sampled_from(PREFIXES)), authorization=credential.header)
    reply, body = send(world, request)
    event(f"{ {True: 'refused', False: 'genuine', None: 'either'}[credential.refused] }: {reply.status}")
    assert_refused_credentials(credential, reply, body, request)


PARTS = ("method", "path", "body", "query", "authorization")


@settings(max_examples=100)
@given(data=st.data())
def test_any_mix_of_malformed_parts(world: World, data: st.DataObject) -> None:
    """Up to three parts of a route's template request garbled at once."""
    route = data.draw(st.sampled_from(ROUTES), label="route")
    request = template_request(world, route, data.draw(st.sampled_from(PREFIXES)))
    garbled = data.draw(st.sets(st.sampled_from(PARTS), min_size=1, max_size=3), label="garbled")
    credential = data.draw(credentials(world, route)) if "authorization" in garbled else None
    changes = {
        "method": lambda: data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND", "post"])),
        "path": lambda: (
            data.draw(garbled_path(world, route))
            if route.placeholders
            else request.path + data.draw(st.sampled_from(["/", "//", "/x", "/%ff"]))
        ),
        "body": lambda: data.draw(bodies(world.resolve(route.body))),
        "query": lambda: "&".join(data.draw(query_pairs(world))) or None,
        "authorization": lambda: credential.header,  # type: ignore[union-attr]
    }
    request = Request(**{**request.__dict__, **{part: changes[part]() for part in sorted(garbled)}})
    reply, body = send(world, request)
    event(f"{sorted(garbled)}: {reply.status}")
    if credential is not None and credential.refused is True and reply.status < 400:
        raise AssertionError(f"{credential.what} was let through: {reply.status} {body} on {request}")


# --- the nastiest cases, pinned -------------------------------------------------------------------------


def get_user(world: World, authorization: str) -> tuple[Reply, Json]:
    route = next(r for r in ROUTES if r.name == "get user")
    return send(world, template_request(world, route, authorization=authorization))


@pytest.mark.parametrize("scope", [[], {}, ["app"], {"app": "app"}], ids=repr)
def test_a_jwt_scope_that_is_no_string_is_refused(world: World, scope: Json) -> None:
    """`scope` of a JSON type other than string, in a JWT signed with the right key."""
    key = world.keys["app"]
    token = jwt_segments({"alg": "HS256", "kid": key.id}, json.dumps({"scope": scope}).encode(), key.secret.encode())
    reply, body = get_user(world, f"Bearer {token}")
    assert (reply.status, error_code(body)) == (401, "invalid_auth"), body


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b'{"alg": "HS256", "kid": "<kid>"}', b'{"scope": "app", "exp": NaN}'),
        (b'{"alg": "HS256", "kid": "<kid>"}', b'{"scope": "app", "exp": Infinity}'),
        (b'{"alg": "HS256", "kid": "<kid>"}', b'{"scope": "app", "nbf": -Infinity}'),
        (b'{"alg": "HS256", "kid": "<kid>"}', b'{"scope": "app", "iat": NaN}'),
        (b'{"alg": "HS256", "kid": "<kid>"}', b'{"scope": "app", "sub": Infinity}'),
        (b'{"alg": "HS256", "kid": "<kid>", "x": NaN}', b'{"scope": "app"}'),
    ],
    ids=lambda raw: raw.decode(),
)
def test_a_jwt_whose_header_or_payload_is_not_json_is_refused(world: World, header: bytes, payload: bytes) -> None:
    """NaN and Infinity are Python's, not JSON: a JWS header or payload holding them is no JSON, and the
    JWT is refused as any other that does not parse (accepted, an `exp: Infinity` token never expires,
    and a NaN kept by the token registry turns the state export into non-JSON)."""
    key = world.keys["app"]
    header = header.replace(b"<kid>", key.id.encode())
    reply, body = get_user(world, "Bearer " + jwt_segments(header, payload, key.secret.encode()))
    exported = world.handle.transport.send("GET", "/__emulator/state", params={"namespace": world.handle.namespace})
    strict_json(exported.body)
    assert (reply.status, error_code(body)) == (401, "invalid_auth"), body


@pytest.mark.parametrize(
    ("route_name", "body"),
    [
        ("update app", b'{"metadata": {"tier": NaN}}'),
        ("update app", b'{"settings": {"limit": Infinity}}'),
        ("create user", b'{"externalId": "nan-user", "metadata": {"score": -Infinity}}'),
        ("update user", b'{"metadata": {"score": NaN}}'),
        ("update conversation", b'{"metadata": {"score": NaN}}'),
        ("post message", b'{"author": {"type": "business"}, "content": {"type": "text", "text": "hi", "extra": NaN}}'),
        (
            "post message",
            b'{"author": {"type": "business"}, "content": {"type": "text", "text": "hi"}, "metadata": {"score": Infinity}}',
        ),
        (
            "post message",
            b'{"author": {"type": "business"}, "content": {"type": "text", "text": "hi"}, "destination": {"x": NaN}}',
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else v.decode()[:60],
)
def test_a_body_with_nan_or_infinity_is_invalid_json(world: World, route_name: str, body: bytes) -> None:
    """Sunshine parses bodies as JSON, where NaN and Infinity do not exist: the body is a 400."""
    route = next(r for r in ROUTES if r.name == route_name)
    reply, answer = send(world, template_request(world, route, body=body))
    assert reply.status == 400, f"{route}: {reply.status} {answer}"


@pytest.mark.parametrize(
    ("route_name", "body"),
    [
        ("update app", {"metadata": {"tier": "silver"}, "settings": {"multiConvoEnabled": False}, "displayName": None}),
        (
            "update user",
            {"metadata": {"plan": "bronze"}, "profile": {"givenName": "Bea"}, "externalId": "someone-else"},
        ),
        ("update conversation", {"metadata": {"lang": "de"}, "description": "new", "displayName": ""}),
        ("update webhook", {"includeFullUser": True, "triggers": ["*"], "target": None}),
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_a_refused_patch_writes_none_of_its_fields(world: World, route_name: str, body: dict) -> None:
    """Valid fields next to a refused one: the 400 leaves the record as it was (`send` compares the state)."""
    route = next(r for r in ROUTES if r.name == route_name)
    reply, answer = send(world, template_request(world, route, body=json.dumps(body).encode()))
    assert reply.status == 400, f"{route}: {reply.status} {answer}"


@pytest.mark.parametrize(
    ("route_name", "shape"),
    [
        ("update app", '{"settings": {"a": %s}}'),
        ("post message", '{"author": {"type": "business"}, "content": {"type": "text", "text": "hi", "x": %s}}'),
    ],
)
@pytest.mark.parametrize("depth", [300, 900])
def test_deep_nesting_inside_a_body_keeps_the_state_exportable(
    world: World, route_name: str, shape: str, depth: int
) -> None:
    """Nesting the JSON parser takes but the state export cannot serialise: refused, or kept exportable."""
    route = next(r for r in ROUTES if r.name == route_name)
    send(world, template_request(world, route, body=(shape % ("[" * depth + "]" * depth)).encode()))


def test_deep_nesting_past_the_parser_is_invalid_json_on_every_body_route(world: World) -> None:
    for route in BODY_ROUTES:
        for prefix in PREFIXES:
            reply, body = send(world, template_request(world, route, prefix, body=b"[" * 50_000 + b"]" * 50_000))
            assert reply.status in (400, 413), f"{route}: {reply.status} {body}"
            reply, body = send(world, template_request(world, route, prefix, body=b"[" * 20_000))
            assert (reply.status, body) == (400, {"errors": [{"code": "bad_request", "title": "Invalid JSON body"}]}), (
                route
            )


def test_bodies_over_100_kb_are_413_on_every_body_route(world: World) -> None:
    for route in BODY_ROUTES:
        padded = {**world.resolve(route.body), "padding": "x" * BODY_LIMIT}
        for body in (json.dumps(padded).encode(), b"x" * (BODY_LIMIT + 1), b" " * (BODY_LIMIT + 1)):
            reply, answer = send(world, template_request(world, route, body=body))
            assert (reply.status, error_code(answer)) == (413, "payload_too_large"), f"{route}: {reply.status} {answer}"


OPTIONAL_BODY = ("release control",)  # [C] requestBody required: false; no body is an empty one


def test_arrays_and_scalars_instead_of_objects_are_400_on_every_body_route(world: World) -> None:
    for route in BODY_ROUTES:
        for body in (encode([world.resolve(route.body)]), b"[]", b'"x"', b"1", b"null", b"true", b"", b"{"):
            if body == b"" and route.name in OPTIONAL_BODY:
                continue
            reply, answer = send(world, template_request(world, route, body=body))
            assert reply.status == 400, f"{route} with {body[:40]!r}: {reply.status} {answer}"


NASTY_SEGMENTS_PINNED = ("%ff", "%00", "%2F", "a%2Fb", "%zz", "%c3%28", "%ed%a0%80", "a" * 6_000, "%ff" * 400)


@pytest.mark.parametrize("turn", [0, 1])
def test_nasty_path_segments_on_every_route(world: World, turn: int) -> None:
    """Every id of every route replaced by each nasty segment in turn, at one prefix or the other."""
    spots = [(route, placeholder) for route in PATH_ROUTES for placeholder in route.placeholders]
    for index, (route, placeholder) in enumerate(spots):
        for number, segment in enumerate(NASTY_SEGMENTS_PINNED):
            if (index + number) % 2 != turn:
                continue
            path = template_path(world, route, PREFIXES[number % 2], {placeholder: segment})
            reply, body = send(world, template_request(world, route, path=path))
            assert reply.status in (400, 403, 404), f"{route} with {placeholder}={segment[:20]}: {reply.status} {body}"


UNPAGED = (
    "list users",
    "list app keys",
    "list integration keys",
    "list webhooks",
    "list devices",
    "list switchboards",
    "list switchboard integrations",
)
PAGINATED = tuple(r for r in LISTINGS if r.name not in UNPAGED)
BAD_PAGES = (
    "page[after]={message}&page[before]={message}",  # both cursors
    'page={"after": "{message}", "before": "{message}"}',
    "page[size]=0",
    "page[size]=101",
    "page[size]=-1",
    "page[size]=abc",
    "page[size]=1e2",
    "page[size]=%C2%B2",
    "page[size]=" + "9" * 400,
    'page={"size": true}',
    'page={"size": 1e999}',
    'page={"size": "5x"}',
    "page=[1]",
    "page=%7B",
    'page={"after": 5}',
    "page[after]=short",
    "page[before]=" + "f" * 25,
    "page[after]=%ff%ff",
)


@pytest.mark.parametrize("query", BAD_PAGES)
def test_bad_pages_are_400_on_every_paginated_listing(world: World, query: str) -> None:
    for route in PAGINATED:
        own = template_query(world, route)
        encoded = "&".join(
            part
            if "=" not in part
            else part.split("=", 1)[0] + "=" + quote(world.resolve(part.split("=", 1)[1]), safe="%")
            for part in query.split("&")
        )
        request = template_request(world, route, query="&".join(filter(None, [own, encoded])))
        reply, body = send(world, request)
        assert (reply.status, body) == (
            400,
            {"errors": [{"code": "bad_request", "title": "Invalid page query parameters"}]},
        ), f"{request}: {reply.status} {body}"


NASTY_AUTHORIZATIONS = {
    "empty": "",
    "basic without credentials": "Basic ",
    "basic bad base64": "Basic !!!!",
    "basic no colon": basic_header(b"app_abc"),
    "basic non-utf-8": basic_header(b"\xff\xfe:\xff"),
    "basic latin-1 text": "Basic \u00ff\u00fe",
    "bearer garbage": "Bearer garbage",
    "bearer dots": "Bearer ...",
    "bearer huge": "Bearer " + "a" * 100_000,
    "bearer deep header": "Bearer " + b64url(b"[" * 5_000 + b"]" * 5_000) + "." + b64url(b"{}") + ".x",
}


@pytest.mark.parametrize("name", sorted(NASTY_AUTHORIZATIONS))
def test_nasty_authorization_headers_are_401(world: World, name: str) -> None:
    for route in ROUTES[sorted(NASTY_AUTHORIZATIONS).index(name) % 3 :: 3]:
        reply, body = send(world, template_request(world, route, authorization=NASTY_AUTHORIZATIONS[name]))
        assert reply.status == 401, f"{route}: {reply.status} {body}"


def unsigned_jwts(world: World) -> dict[str, str]:
    key = world.keys["app"]
    payload = json.dumps({"scope": "app"}).encode()
    return {
        "alg none": jwt_segments({"alg": "none", "kid": key.id}, payload, None),
        "alg None": jwt_segments({"alg": "None", "kid": key.id}, payload, None),
        "alg HS512": jwt_segments({"alg": "HS512", "kid": key.id}, payload, key.secret.encode(), "HS512"),
        "no kid": jwt_segments({"alg": "HS256"}, payload, key.secret.encode()),
        "numeric kid": jwt_segments({"alg": "HS256", "kid": 7}, payload, key.secret.encode()),
        "kid of another app": genuine_jwt(world.keys["other_app"]),
        "kid of another namespace": genuine_jwt(world.keys["foreign_app"]),
        "payload a list": jwt_segments({"alg": "HS256", "kid": key.id}, b'["app"]', key.secret.encode()),
        "exp a string": genuine_jwt(key, exp="9999999999"),
        "exp in the past": genuine_jwt(key, exp=1),
        "nbf far ahead": genuine_jwt(key, nbf=10**400),
        "tampered signature": flip(genuine_jwt(key), 2),
    }


def test_forged_jwts_are_refused_on_every_route(world: World) -> None:
    """Each forgery on a quarter of the routes, each route under three forgeries."""
    for number, (name, token) in enumerate(unsigned_jwts(world).items()):
        for route in ROUTES[number % 4 :: 4]:
            reply, body = send(world, template_request(world, route, authorization=f"Bearer {token}"))
            assert reply.status in (401, 403), f"{name} on {route}: {reply.status} {body}"


# --- over a real server: the raw path as a client sends it ------------------------------------------------


def raw_get(base_url: str, target: str, headers: Mapping[str, str]) -> Reply:
    """GET with the request target exactly as given (no client normalising it), over a socket."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {url.netloc}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    return Reply(int(status_line.split()[1]), parsed, body)


def test_nasty_path_segments_over_http(emulator_server: EmulatorHandle) -> None:
    app_id, key = fresh_hex(), Key(f"app_{fresh_hex()}", secrets.token_urlsafe(18), "app")
    emulator_server.control.seed(
        {"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key.id, "secret": key.secret}]}]}}
    )
    headers = {
        "Authorization": basic_header(f"{key.id}:{key.secret}".encode()),
        NAMESPACE_HEADER: emulator_server.namespace,
    }
    assert emulator_server.base_url is not None
    before = emulator_server.control.export_state()
    for segment in ("%ff", "%00", "%2F", "a%2Fb", "%", "%zz", "%c3%28", "%ed%a0%80", "..", "%2e%2e", "a" * 6_000):
        for prefix in PREFIXES:
            for target in (
                f"{prefix}/apps/{app_id}/users/{segment}",
                f"{prefix}/apps/{segment}/users/x",
                f"{prefix}/apps/{app_id}/integrations/{segment}/webhooks/{segment}",
            ):
                reply = raw_get(emulator_server.base_url, target, headers)
                check_reply(reply, target)
                assert reply.status in (400, 403, 404), f"{target[:100]}: {reply.status} {reply.text[:200]}"
    assert emulator_server.control.export_state() == before
