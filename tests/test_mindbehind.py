"""Mindbehind over real HTTP, as a brand's server and a web chat widget would call it.

Provider calls go out with plain `requests` against the test server's base URL, without the emulator's
namespace header: the emulator finds the test's namespace from the channel, company or `apiToken` the
request names. Control calls (seed, clock, state) go through the test's `EmulatorClient`. The clock of
the test's namespace is frozen at T0, so every lifetime is counted exactly.

Webhooks go to a small HTTP receiver on 127.0.0.1 that records each body and can answer 500 to its
first calls; retries are made due by moving the emulated clock, never by waiting.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from test_fuzz import strict_json

from emulator.client import EmulatorClient
from emulator.core.clock import format_instant
from emulator.core.deliveries import RETRY_SCHEDULE
from emulator.pytest_plugin import EmulatorHandle, MindbehindChannel, MindbehindCode, MindbehindToken
from emulator.web import UNHANDLED_HEADER

Json = Any

TOKEN_PATH = "/external/v1/incoming/mbWebChat/token"
INCOMING_PATH = "/external/v1/incoming/mindbehind"
GET_CLIENT = "/live-core/getClient"
SET_KEY_VALUES = "/live-core/setKeyValueProperties"
HOOKS = "/__emulator/mindbehind"
SESSIONS = f"{HOOKS}/webchat/sessions"
SEND_CODE = f"{HOOKS}/webchat/otp"
READ_CODE = f"{HOOKS}/otp"
BOT_REPLY = f"{HOOKS}/bot-reply"
HUMAN_ACTION = f"{HOOKS}/human-action"
CLIENT_FIELDS = {
    "name",
    "surname",
    "email",
    "phone",
    "companyID",
    "clientID",
    "channelType",
    "tags",
    "keyValueProperties",
}

T0 = "2026-03-01T00:00:00Z"
HOUR = 3600

pytestmark = pytest.mark.emulator_time(T0)


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """Every Mindbehind fixture of this module talks to the real HTTP server."""
    return emulator_server


# --- the brand's side: plain HTTP -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: Json

    @property
    def pair(self) -> tuple[int, Json]:
        return self.status, self.body


def refused(status: int, message: str) -> tuple[int, dict]:
    """A Mindbehind refusal, exactly."""
    return status, {"success": False, "message": message}


ABSENT = object()


class Brand:
    """A brand's server and its page's widget: plain requests, no emulator headers."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        api_token: str | None = None,
        json: Json = ABSENT,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {**(headers or {}), **({} if api_token is None else {"apiToken": api_token})}
        body: dict[str, Any] = {"data": data} if json is ABSENT else {"json": json}
        response = self.http.request(method, self.base_url + path, headers=sent, params=params, timeout=30, **body)
        assert UNHANDLED_HEADER not in response.headers, f"an exception escaped: {response.headers[UNHANDLED_HEADER]}"
        return Answer(response.status_code, strict_json(response.content))

    # the provider's API

    def request_token(self, channel: MindbehindChannel, body: Json, api_token: str | None = None) -> Answer:
        return self.call("POST", TOKEN_PATH, api_token=api_token or channel.management_token, json=body)

    def token(self, channel: MindbehindChannel, client_id: str, **fields: Json) -> str:
        answer = self.request_token(channel, {"clientID": client_id, "channelID": channel.channel_id, **fields})
        assert answer.status == 200, answer
        return answer.body["token"]

    def get_client(self, api_token: str | None, client_id: str, company_id: str) -> Answer:
        return self.call(
            "GET", GET_CLIENT, api_token=api_token, params={"clientID": client_id, "companyID": company_id}
        )

    def set_key_values(self, api_token: str | None, client_id: str, pairs: Json) -> Answer:
        return self.call(
            "POST", SET_KEY_VALUES, api_token=api_token, json={"clientID": client_id, "KeyValueProperties": pairs}
        )

    def incoming(self, api_token: str | None, channel_id: str, body: Json) -> Answer:
        return self.call("POST", INCOMING_PATH, api_token=api_token, params={"channelID": channel_id}, json=body)

    # the widget's and the bot's side (emulator-defined hooks)

    def session(self, channel_id: str, **fields: Json) -> Answer:
        return self.call("POST", SESSIONS, json={"channelID": channel_id, **fields})

    def token_session(self, channel: MindbehindChannel, token: str, client_id: str) -> Answer:
        return self.session(channel.channel_id, auth="token", MB_TOKEN=token, MB_CLIENT=client_id)

    def send_code(self, channel_id: str, phone: str) -> Answer:
        return self.call("POST", SEND_CODE, json={"channelID": channel_id, "phone": phone})

    def read_code(self, channel_id: str, phone: str) -> Answer:
        return self.call("GET", READ_CODE, params={"channelID": channel_id, "phone": phone})

    def code_session(self, channel_id: str, phone: str, code: str) -> Answer:
        return self.session(channel_id, auth="otp", phone=phone, code=code)

    def deliver(self, hook: str, body: Json) -> Answer:
        return self.call("POST", hook, json=body)

    def rotate(self, channel_id: str) -> Answer:
        return self.call("POST", f"{HOOKS}/channels/{channel_id}/rotate-token")

    # the control API, read as a test would

    def deliveries(self, namespace: str) -> list[dict]:
        return self.call("GET", "/__emulator/deliveries", params={"namespace": namespace}).body["deliveries"]


@pytest.fixture
def brand(emulator_server: EmulatorHandle) -> Iterator[Brand]:
    assert emulator_server.base_url is not None
    caller = Brand(emulator_server.base_url)
    with caller.http:
        yield caller


# --- seeding ----------------------------------------------------------------------------------------


def fresh(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


def seed_company(
    handle: EmulatorHandle | EmulatorClient, *channels: dict, clients: list[dict] | None = None
) -> list[MindbehindChannel]:
    """A new company with the given channels (fresh ids and management tokens) in a namespace."""
    control = handle.control if isinstance(handle, EmulatorHandle) else handle
    company_id = fresh("co")
    specs = [{"id": fresh("ch"), "management_token": secrets.token_urlsafe(24), **spec} for spec in channels]
    control.seed({"mindbehind": {"companies": [{"id": company_id, "channels": specs, "clients": clients or []}]}})
    owner = handle if isinstance(handle, EmulatorHandle) else None
    return [
        MindbehindChannel(company_id, s["id"], s["management_token"], s.get("token_age", 24), owner)  # type: ignore[arg-type]
        for s in specs
    ]


def company_state(handle: EmulatorHandle, company_id: str) -> dict:
    state = handle.control.export_state()["namespaces"][handle.namespace]
    return state["providers"]["mindbehind"]["companies"][company_id]


def channel_state(handle: EmulatorHandle, channel: MindbehindChannel) -> dict:
    channels = company_state(handle, channel.company_id)["channels"]
    return next(c for c in channels if c["id"] == channel.channel_id)


@contextmanager
def unchanged(handle: EmulatorHandle) -> Iterator[None]:
    """The block's requests leave the namespace's state as it was."""
    before = handle.control.export_state()
    yield
    assert handle.control.export_state() == before, "a refused request changed the state"


def epoch(instant: str) -> float:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp()


def frozen_at(handle: EmulatorHandle) -> float:
    return handle.control.export_state()["namespaces"][handle.namespace]["clock"]["frozen_at"]


@pytest.fixture
def t0(emulator_server: EmulatorHandle) -> float:
    """Where the test's frozen clock stands at its start (T0)."""
    return frozen_at(emulator_server)


@pytest.fixture
def sibling(emulator_server: EmulatorHandle) -> MindbehindChannel:
    """A web chat channel of another company, in the same namespace."""
    return seed_company(emulator_server, {})[0]


def new_client() -> str:
    return fresh("client")


def new_phone() -> str:
    return "+90555" + "".join(secrets.choice("0123456789") for _ in range(7))


# --- client token -----------------------------------------------------------------------------------


def test_client_token_is_an_opaque_string_in_the_success_envelope(
    brand: Brand, mindbehind_channel: MindbehindChannel
) -> None:
    body = {
        "clientID": "+905551112233",
        "channelID": mindbehind_channel.channel_id,
        "tokenAge": 48,
        "properties": {"name": "Ada"},
    }
    first, second = brand.request_token(mindbehind_channel, body), brand.request_token(mindbehind_channel, body)
    assert first.status == 200 and set(first.body) == {"success", "token"} and first.body["success"] is True
    assert isinstance(first.body["token"], str) and len(first.body["token"]) >= 32
    assert second.body["token"] != first.body["token"], "each request mints a new token"
    assert first.body["token"].count(".") != 2, "not a JWT: an opaque string"


MINE, OTHER = "<mine>", "<other channel's>"
CHANNEL = "<channel>"
GOOD_BODY = {"clientID": "c-1", "channelID": CHANNEL}
CLIENT_REQUIRED = refused(400, "clientID is required (a non-empty string)")
CHANNEL_REQUIRED = refused(400, "channelID is required (a non-empty string)")
BAD_AGE = refused(400, "tokenAge is a positive whole number of hours")
BAD_PROPERTIES = refused(400, "properties is an object")
NOT_JSON = refused(400, "the body is not valid JSON")
NOT_OBJECT = refused(400, "the body is a JSON object")
UNAUTHORIZED = refused(401, "Unauthorized")

TOKEN_REFUSALS: dict[str, tuple[str | None, Json, tuple[int, dict]]] = {
    "no apiToken": (None, GOOD_BODY, UNAUTHORIZED),
    "empty apiToken": ("", GOOD_BODY, UNAUTHORIZED),
    "wrong apiToken": ("not-a-management-token", GOOD_BODY, UNAUTHORIZED),
    "another channel's apiToken": (OTHER, GOOD_BODY, refused(403, "Forbidden")),
    "unknown channelID": (MINE, {**GOOD_BODY, "channelID": "ch-nowhere"}, refused(404, "Channel not found")),
    "no clientID": (MINE, {"channelID": CHANNEL}, CLIENT_REQUIRED),
    "empty clientID": (MINE, {**GOOD_BODY, "clientID": ""}, CLIENT_REQUIRED),
    "numeric clientID": (MINE, {**GOOD_BODY, "clientID": 905551112233}, CLIENT_REQUIRED),
    "clientid, not clientID": (MINE, {"clientid": "c-1", "channelID": CHANNEL}, CLIENT_REQUIRED),
    "no channelID": (MINE, {"clientID": "c-1"}, CHANNEL_REQUIRED),
    "channelid, not channelID": (MINE, {"clientID": "c-1", "channelid": CHANNEL}, CHANNEL_REQUIRED),
    "tokenAge 0": (MINE, {**GOOD_BODY, "tokenAge": 0}, BAD_AGE),
    "tokenAge -1": (MINE, {**GOOD_BODY, "tokenAge": -1}, BAD_AGE),
    "tokenAge 1.5": (MINE, {**GOOD_BODY, "tokenAge": 1.5}, BAD_AGE),
    'tokenAge "2"': (MINE, {**GOOD_BODY, "tokenAge": "2"}, BAD_AGE),
    "tokenAge true": (MINE, {**GOOD_BODY, "tokenAge": True}, BAD_AGE),
    "tokenAge above the limit": (MINE, {**GOOD_BODY, "tokenAge": 100_001}, BAD_AGE),
    "properties a list": (MINE, {**GOOD_BODY, "properties": [{"name": "Ada"}]}, BAD_PROPERTIES),
    "properties a string": (MINE, {**GOOD_BODY, "properties": "name=Ada"}, BAD_PROPERTIES),
    "malformed JSON": (MINE, b'{"clientID": "c-1", ', NOT_JSON),
    "JSON array": (MINE, b"[]", NOT_OBJECT),
    "JSON string": (MINE, b'"c-1"', NOT_OBJECT),
    "JSON null": (MINE, b"null", NOT_OBJECT),
    "no body": (MINE, b"", NOT_OBJECT),
}


def with_channel(value: Json, channel_id: str) -> Json:
    if isinstance(value, dict):
        return {k: channel_id if v == CHANNEL else v for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", TOKEN_REFUSALS)
def test_client_token_refusals(
    brand: Brand,
    emulator_server: EmulatorHandle,
    mindbehind_channel: MindbehindChannel,
    sibling: MindbehindChannel,
    case: str,
) -> None:
    token, body, expected = TOKEN_REFUSALS[case]
    api_token = {MINE: mindbehind_channel.management_token, OTHER: sibling.management_token}.get(token, token)  # type: ignore[arg-type]
    payload = with_channel(body, mindbehind_channel.channel_id)
    with unchanged(emulator_server):
        if isinstance(payload, bytes):
            headers = {"Content-Type": "application/json", **({} if api_token is None else {"apiToken": api_token})}
            answer = brand.call("POST", TOKEN_PATH, data=payload, headers=headers)
        else:
            answer = brand.call("POST", TOKEN_PATH, api_token=api_token, json=payload)
    assert answer.pair == expected


def test_client_token_is_refused_for_a_generic_channel(brand: Brand, emulator_server: EmulatorHandle) -> None:
    generic = seed_company(emulator_server, {"type": "mindbehind"})[0]
    with unchanged(emulator_server):
        answer = brand.request_token(generic, {"clientID": "c-1", "channelID": generic.channel_id})
    assert answer.pair == refused(400, "channelID is not a web chat channel")


def test_misspelt_token_age_is_not_read(
    brand: Brand, emulator_clock: EmulatorClient, mindbehind_channel: MindbehindChannel
) -> None:
    """`tokenage` is not `tokenAge`: the token gets the channel's 24 hours."""
    client = new_client()
    token = brand.token(mindbehind_channel, client, tokenage=1)
    emulator_clock.advance("2h")
    assert brand.token_session(mindbehind_channel, token, client).status == 201


def test_a_token_request_creates_the_client(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    client = new_client()
    brand.token(mindbehind_channel, client)
    answer = brand.get_client(mindbehind_channel.management_token, client, mindbehind_channel.company_id)
    assert answer.status == 200 and answer.body["clientID"] == client and answer.body["channelType"] == "mbWebChat"


# --- token age and the session check ----------------------------------------------------------------

TOKEN_EXPIRED = refused(401, "Token expired")


def test_token_age_overrides_the_channel_default(
    brand: Brand, emulator_clock: EmulatorClient, mindbehind_channel: MindbehindChannel
) -> None:
    short_client, default_client = new_client(), new_client()
    short = brand.token(mindbehind_channel, short_client, tokenAge=1)
    default = brand.token(mindbehind_channel, default_client)
    emulator_clock.advance("2h")
    assert brand.token_session(mindbehind_channel, short, short_client).pair == TOKEN_EXPIRED
    opened = brand.token_session(mindbehind_channel, default, default_client)
    assert opened.status == 201 and opened.body["session"]["auth"] == "token"


def test_token_lives_exactly_its_age(
    brand: Brand, emulator_clock: EmulatorClient, mindbehind_channel: MindbehindChannel
) -> None:
    client = new_client()
    token = brand.token(mindbehind_channel, client, tokenAge=3)
    emulator_clock.advance(3 * HOUR - 1)
    assert brand.token_session(mindbehind_channel, token, client).status == 201
    emulator_clock.advance(1)
    assert brand.token_session(mindbehind_channel, token, client).pair == TOKEN_EXPIRED


def test_seeded_channel_token_age_applies_when_token_age_is_omitted(
    brand: Brand, emulator_server: EmulatorHandle, emulator_clock: EmulatorClient
) -> None:
    channel = seed_company(emulator_server, {"token_age": 3})[0]
    client = new_client()
    default, longer = brand.token(channel, client), brand.token(channel, client, tokenAge=5)
    emulator_clock.advance(3 * HOUR - 1)
    assert brand.token_session(channel, default, client).status == 201
    emulator_clock.advance(1)
    assert brand.token_session(channel, default, client).pair == TOKEN_EXPIRED
    assert brand.token_session(channel, longer, client).status == 201, "tokenAge overrides the channel's age"


def test_channel_token_age_changed_at_run_time(
    brand: Brand, emulator_server: EmulatorHandle, emulator_clock: EmulatorClient, mindbehind_channel: MindbehindChannel
) -> None:
    client = new_client()
    before = brand.token(mindbehind_channel, client)
    settings = emulator_server.control.set_ttl(channel=mindbehind_channel.channel_id, token_age=2)
    assert settings["token_age"] == 2 and channel_state(emulator_server, mindbehind_channel)["token_age"] == 2
    after = brand.token(mindbehind_channel, client)
    emulator_clock.advance("2h")
    assert brand.token_session(mindbehind_channel, after, client).pair == TOKEN_EXPIRED
    assert brand.token_session(mindbehind_channel, before, client).status == 201, (
        "a token keeps the age it was issued with"
    )


def test_session_refuses_a_token_of_another_client(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    token = brand.token(mindbehind_channel, "client-a")
    assert brand.token_session(mindbehind_channel, token, "client-b").pair == refused(401, "Client mismatch")


def test_session_refuses_an_unknown_token(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    answer = brand.token_session(mindbehind_channel, secrets.token_urlsafe(32), "client-a")
    assert answer.pair == refused(401, "Unknown token")


def test_session_refuses_a_token_of_another_channel(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel
) -> None:
    first, second = seed_company(emulator_server, {}, {})
    token = brand.token(first, "client-a")
    with unchanged(emulator_server):
        assert brand.token_session(second, token, "client-a").pair == refused(401, "Unknown token")
        assert brand.token_session(mindbehind_channel, token, "client-a").pair == refused(401, "Unknown token")


SESSION_REFUSALS: dict[str, tuple[dict, tuple[int, dict]]] = {
    "no auth": ({}, refused(400, "auth is token, anonymous or otp")),
    "unknown auth": ({"auth": "password"}, refused(400, "auth is token, anonymous or otp")),
    "token without MB_TOKEN": (
        {"auth": "token", "MB_CLIENT": "c"},
        refused(400, "MB_TOKEN is required (a non-empty string)"),
    ),
    "token without MB_CLIENT": (
        {"auth": "token", "MB_TOKEN": "t"},
        refused(400, "MB_CLIENT is required (a non-empty string)"),
    ),
    "otp without phone": ({"auth": "otp", "code": "123456"}, refused(400, "phone is required (a non-empty string)")),
    "otp without code": ({"auth": "otp", "phone": "+90555"}, refused(400, "code is required (a non-empty string)")),
}


@pytest.mark.parametrize("case", SESSION_REFUSALS)
def test_session_refusals(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel, case: str
) -> None:
    fields, expected = SESSION_REFUSALS[case]
    with unchanged(emulator_server):
        assert brand.session(mindbehind_channel.channel_id, **fields).pair == expected


def test_session_of_an_unknown_or_generic_channel_is_refused(brand: Brand, emulator_server: EmulatorHandle) -> None:
    generic = seed_company(emulator_server, {"type": "mindbehind"})[0]
    with unchanged(emulator_server):
        assert brand.session("ch-nowhere", auth="anonymous").pair == refused(404, "Channel not found")
        assert brand.session(generic.channel_id, auth="anonymous").pair == refused(
            400, "channelID is not a web chat channel"
        )
        assert brand.call("POST", SESSIONS, json={"auth": "anonymous"}).pair == CHANNEL_REQUIRED


# --- sessions fill the client ------------------------------------------------------------------------


def test_session_carries_token_properties_into_the_client(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    client = "+905551112233"
    properties = {
        "name": "Ada",
        "surname": "Lovelace",
        "email": "ada@example.com",
        "phone": client,
        "plan": "gold",
        "vip": True,
    }
    token = brand.token(mindbehind_channel, client, properties=properties)
    read = brand.get_client(mindbehind_channel.management_token, client, mindbehind_channel.company_id)
    assert read.body["name"] == "" and read.body["keyValueProperties"] == [], (
        "properties reach the client with its session"
    )

    opened = brand.token_session(mindbehind_channel, token, client)
    expected = {
        "name": "Ada",
        "surname": "Lovelace",
        "email": "ada@example.com",
        "phone": client,
        "companyID": mindbehind_channel.company_id,
        "clientID": client,
        "channelType": "mbWebChat",
        "tags": [],
        "keyValueProperties": [{"key": "plan", "value": "gold"}, {"key": "vip", "value": True}],
    }
    assert opened.status == 201 and opened.body["success"] is True and opened.body["client"] == expected
    assert brand.get_client(mindbehind_channel.management_token, client, mindbehind_channel.company_id).pair == (
        200,
        expected,
    )


def test_session_answer_names_the_session(brand: Brand, mindbehind_channel: MindbehindChannel, t0: float) -> None:
    client = new_client()
    opened = brand.token_session(mindbehind_channel, brand.token(mindbehind_channel, client), client)
    assert set(opened.body) == {"success", "session", "client"}
    session = opened.body["session"]
    assert (
        session["channelID"] == mindbehind_channel.channel_id
        and session["clientID"] == client
        and session["auth"] == "token"
    )
    assert isinstance(session["session_id"], str) and session["session_id"]
    assert session["opened_at"] == t0


def test_anonymous_sessions_get_a_new_client_each_time(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    opened = [brand.session(mindbehind_channel.channel_id, auth="anonymous") for _ in range(3)]
    assert all(answer.status == 201 and answer.body["session"]["auth"] == "anonymous" for answer in opened)
    clients = {answer.body["session"]["clientID"] for answer in opened}
    assert len(clients) == 3
    for client in clients:
        read = brand.get_client(mindbehind_channel.management_token, client, mindbehind_channel.company_id)
        assert read.status == 200 and read.body["channelType"] == "mbWebChat"


# --- SMS codes ---------------------------------------------------------------------------------------


def test_sms_code_opens_a_session_for_the_phone(brand: Brand, mindbehind_channel: MindbehindChannel, t0: float) -> None:
    phone = new_phone()
    assert brand.send_code(mindbehind_channel.channel_id, phone).pair == (200, {"success": True})
    read = brand.read_code(mindbehind_channel.channel_id, phone)
    assert read.status == 200 and set(read.body) == {"code", "expires_at", "attempts_left"}
    assert len(read.body["code"]) == 6 and read.body["code"].isdigit()
    assert read.body["expires_at"] == format_instant(t0 + 300) and read.body["attempts_left"] == 5

    opened = brand.code_session(mindbehind_channel.channel_id, phone, read.body["code"])
    assert (
        opened.status == 201 and opened.body["session"]["auth"] == "otp" and opened.body["session"]["clientID"] == phone
    )
    assert opened.body["client"]["phone"] == phone
    assert (
        brand.get_client(mindbehind_channel.management_token, phone, mindbehind_channel.company_id).body["phone"]
        == phone
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_codes_count_down_then_even_the_right_code_is_refused(
    brand: Brand, emulator_server: EmulatorHandle
) -> None:
    channel = seed_company(emulator_server, {"otp_attempts": 3})[0]
    phone = new_phone()
    brand.send_code(channel.channel_id, phone)
    code = brand.read_code(channel.channel_id, phone).body["code"]
    for left in (2, 1, 0):
        assert brand.code_session(channel.channel_id, phone, wrong(code)).pair == refused(401, "Wrong code")
        assert brand.read_code(channel.channel_id, phone).body["attempts_left"] == left
    with unchanged(emulator_server):
        assert brand.code_session(channel.channel_id, phone, code).pair == refused(429, "Too many attempts")
        assert brand.code_session(channel.channel_id, phone, wrong(code)).pair == refused(429, "Too many attempts")


def test_sms_code_expires_after_the_channels_otp_ttl(
    brand: Brand, emulator_server: EmulatorHandle, emulator_clock: EmulatorClient
) -> None:
    channel = seed_company(emulator_server, {"otp_ttl": 60})[0]
    early, late = new_phone(), new_phone()
    for phone in (early, late):
        brand.send_code(channel.channel_id, phone)
    codes = {phone: brand.read_code(channel.channel_id, phone).body["code"] for phone in (early, late)}
    emulator_clock.advance(59)
    assert brand.code_session(channel.channel_id, early, codes[early]).status == 201
    emulator_clock.advance(1)
    with unchanged(emulator_server):
        assert brand.code_session(channel.channel_id, late, codes[late]).pair == refused(401, "Code expired")


def test_used_sms_code_cannot_be_reused(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_otp: MindbehindCode
) -> None:
    channel_id = mindbehind_otp.channel.channel_id
    assert brand.code_session(channel_id, mindbehind_otp.phone, mindbehind_otp.code).status == 201
    no_code = refused(401, "No code was requested for this phone")
    with unchanged(emulator_server):
        assert brand.code_session(channel_id, mindbehind_otp.phone, mindbehind_otp.code).pair == no_code
        assert brand.read_code(channel_id, mindbehind_otp.phone).pair == refused(
            404, "No code was requested for this phone"
        )


def test_a_new_code_replaces_the_pending_one(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    phone = new_phone()
    brand.send_code(mindbehind_channel.channel_id, phone)
    brand.code_session(mindbehind_channel.channel_id, phone, "not-the-code")
    brand.send_code(mindbehind_channel.channel_id, phone)
    assert brand.read_code(mindbehind_channel.channel_id, phone).body["attempts_left"] == 5


# --- live-core ---------------------------------------------------------------------------------------


SEEDED_CLIENT = {
    "clientID": "+905551112233",
    "name": "Ada",
    "surname": "Lovelace",
    "email": "ada@example.com",
    "phone": "+905551112233",
    "channelType": "mbWebChat",
    "tags": ["vip"],
    "keyValueProperties": [{"key": "plan", "value": "silver"}, {"key": "lang", "value": "tr"}],
}


@pytest.fixture
def seeded(emulator_server: EmulatorHandle) -> list[MindbehindChannel]:
    """A company with two web chat channels and one seeded client."""
    return seed_company(emulator_server, {}, {}, clients=[SEEDED_CLIENT])


def test_get_client_answers_the_client_object(brand: Brand, seeded: list[MindbehindChannel]) -> None:
    channel = seeded[0]
    answer = brand.get_client(channel.management_token, SEEDED_CLIENT["clientID"], channel.company_id)
    assert answer.status == 200 and set(answer.body) == CLIENT_FIELDS
    assert answer.body == {**SEEDED_CLIENT, "companyID": channel.company_id}


def test_any_channel_token_of_the_company_reads_its_clients(brand: Brand, seeded: list[MindbehindChannel]) -> None:
    second = seeded[1]
    answer = brand.get_client(second.management_token, SEEDED_CLIENT["clientID"], second.company_id)
    assert answer.status == 200 and answer.body["clientID"] == SEEDED_CLIENT["clientID"]


def test_set_key_value_properties_upserts_by_key(brand: Brand, seeded: list[MindbehindChannel]) -> None:
    channel, client = seeded[0], SEEDED_CLIENT["clientID"]
    answer = brand.set_key_values(
        channel.management_token, client, [{"key": "plan", "value": "gold"}, {"key": "tier", "value": 2}]
    )
    expected_pairs = [{"key": "plan", "value": "gold"}, {"key": "lang", "value": "tr"}, {"key": "tier", "value": 2}]
    assert answer.status == 200 and set(answer.body) == CLIENT_FIELDS, "the answer is the client, with lower-case k"
    assert answer.body == {**SEEDED_CLIENT, "companyID": channel.company_id, "keyValueProperties": expected_pairs}
    assert brand.get_client(channel.management_token, client, channel.company_id).pair == answer.pair


def test_set_key_value_properties_reads_only_the_capital_k(
    brand: Brand, emulator_server: EmulatorHandle, seeded: list[MindbehindChannel]
) -> None:
    channel = seeded[0]
    body = {"clientID": SEEDED_CLIENT["clientID"], "keyValueProperties": [{"key": "plan", "value": "gold"}]}
    with unchanged(emulator_server):
        answer = brand.call("POST", SET_KEY_VALUES, api_token=channel.management_token, json=body)
    assert answer.pair == refused(400, "KeyValueProperties is a list of {key, value}")


LIVE_CORE_PARAMS = refused(400, "clientID and companyID are required")
CLIENT_NOT_FOUND = refused(404, "Client not found")


def test_live_core_refusals(
    brand: Brand, emulator_server: EmulatorHandle, seeded: list[MindbehindChannel], sibling: MindbehindChannel
) -> None:
    channel, client = seeded[0], SEEDED_CLIENT["clientID"]
    token, company = channel.management_token, channel.company_id
    pairs = [{"key": "plan", "value": "gold"}]
    with unchanged(emulator_server):
        assert brand.call("GET", GET_CLIENT, api_token=token, params={"clientID": client}).pair == LIVE_CORE_PARAMS
        assert brand.call("GET", GET_CLIENT, api_token=token, params={"companyID": company}).pair == LIVE_CORE_PARAMS
        assert (
            brand.call("GET", GET_CLIENT, api_token=token, params={"clientid": client, "companyID": company}).pair
            == LIVE_CORE_PARAMS
        )
        assert brand.get_client(token, "nobody", company).pair == CLIENT_NOT_FOUND
        assert brand.get_client(None, client, company).pair == UNAUTHORIZED
        assert brand.get_client("not-a-token", client, company).pair == UNAUTHORIZED
        assert brand.get_client(sibling.management_token, client, company).pair == UNAUTHORIZED, (
            "another company's token"
        )
        assert (
            brand.call("POST", SET_KEY_VALUES, api_token=token, json={"KeyValueProperties": pairs}).pair
            == CLIENT_REQUIRED
        )
        assert brand.set_key_values(token, client, {"plan": "gold"}).pair == refused(
            400, "KeyValueProperties is a list of {key, value}"
        )
        assert brand.set_key_values(token, "nobody", pairs).pair == CLIENT_NOT_FOUND
        assert brand.set_key_values(None, client, pairs).pair == UNAUTHORIZED
        assert brand.set_key_values("not-a-token", client, pairs).pair == UNAUTHORIZED
        # the company comes from the apiToken: another company's token does not find this client
        assert brand.set_key_values(sibling.management_token, client, pairs).pair == CLIENT_NOT_FOUND


# --- management token rotation -----------------------------------------------------------------------


@pytest.fixture
def other_namespace(emulator_server: EmulatorHandle) -> Iterator[EmulatorClient]:
    assert emulator_server.base_url is not None
    control = EmulatorClient(emulator_server.base_url, namespace=fresh("test-mb"))
    try:
        yield control
    finally:
        control.reset()


def test_rotated_management_token_replaces_the_old_one(
    brand: Brand,
    emulator_server: EmulatorHandle,
    mindbehind_channel: MindbehindChannel,
    other_namespace: EmulatorClient,
) -> None:
    theirs = seed_company(other_namespace, {})[0]
    mine_client, their_client = new_client(), new_client()
    brand.token(mindbehind_channel, mine_client)
    brand.token(theirs, their_client)
    old = mindbehind_channel.management_token

    rotated = brand.rotate(mindbehind_channel.channel_id)
    assert (
        rotated.status == 200
        and set(rotated.body) == {"success", "management_token"}
        and rotated.body["success"] is True
    )
    new = rotated.body["management_token"]
    assert new != old and channel_state(emulator_server, mindbehind_channel)["management_token"] == new

    body = {"clientID": mine_client, "channelID": mindbehind_channel.channel_id}
    assert brand.request_token(mindbehind_channel, body, api_token=old).pair == UNAUTHORIZED
    assert brand.set_key_values(old, mine_client, []).pair == UNAUTHORIZED
    assert brand.request_token(mindbehind_channel, body, api_token=new).status == 200
    # setKeyValueProperties names its tenant only by the apiToken: each token still finds its own namespace
    updated = brand.set_key_values(new, mine_client, [{"key": "rotated", "value": "yes"}])
    assert updated.status == 200 and updated.body["companyID"] == mindbehind_channel.company_id
    assert updated.body["keyValueProperties"] == [{"key": "rotated", "value": "yes"}]
    theirs_updated = brand.set_key_values(theirs.management_token, their_client, [{"key": "untouched", "value": "yes"}])
    assert theirs_updated.status == 200 and theirs_updated.body["companyID"] == theirs.company_id
    assert brand.set_key_values(new, their_client, []).pair == CLIENT_NOT_FOUND


def test_rotating_an_unknown_channel_is_refused(brand: Brand) -> None:
    assert brand.rotate("ch-nowhere").pair == refused(404, "Channel not found")


# --- generic channel ---------------------------------------------------------------------------------


class Receiver:
    """A brand's webhook endpoint on 127.0.0.1: records every call, answers 500 to the first `failures`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Json]] = []
        self.failures = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def fail_next(self, times: int) -> None:
        with self._lock:
            self.failures = times

    def bodies(self, path: str | None = None) -> list[Json]:
        with self._lock:
            return [body for where, body in self.calls if path is None or where == path]

    def _answer(self, path: str, raw: bytes) -> int:
        with self._lock:
            self.calls.append((path, json.loads(raw)))
            if self.failures:
                self.failures -= 1
                return 500
            return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(receiver._answer(self.path, raw))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def generic(emulator_server: EmulatorHandle, receiver: Receiver) -> MindbehindChannel:
    """A generic channel whose send and handover webhooks point at the receiver."""
    spec = {"type": "mindbehind", "send_webhook": receiver.url("/send"), "handover_webhook": receiver.url("/handover")}
    return seed_company(emulator_server, spec)[0]


def test_incoming_message_is_accepted_and_stored(
    brand: Brand, emulator_server: EmulatorHandle, generic: MindbehindChannel, t0: float
) -> None:
    message = {"clientID": "c-1", "message": {"type": "text", "text": "hello"}}
    assert brand.incoming(generic.management_token, generic.channel_id, message).pair == (200, {"success": True})
    stored = company_state(emulator_server, generic.company_id)["messages"]
    assert stored == [{"channelID": generic.channel_id, "received_at": format_instant(t0), "body": message}]


def test_incoming_refusals(
    brand: Brand, emulator_server: EmulatorHandle, generic: MindbehindChannel, mindbehind_channel: MindbehindChannel
) -> None:
    other = seed_company(emulator_server, {"type": "mindbehind"})[0]
    token, channel_id, message = generic.management_token, generic.channel_id, {"text": "hello"}
    raw = {"Content-Type": "application/json", "apiToken": token}
    with unchanged(emulator_server):
        assert brand.incoming(None, channel_id, message).pair == UNAUTHORIZED
        assert brand.incoming("not-a-token", channel_id, message).pair == UNAUTHORIZED
        assert brand.incoming(other.management_token, channel_id, message).pair == refused(403, "Forbidden")
        assert brand.incoming(token, "ch-nowhere", message).pair == refused(404, "Channel not found")
        assert brand.incoming(token, mindbehind_channel.channel_id, message).pair == refused(404, "Channel not found")
        assert brand.call("POST", INCOMING_PATH, api_token=token, json=message).pair == refused(
            400, "channelID is required"
        )
        assert brand.incoming(token, channel_id, ["hello"]).pair == refused(400, "the message is a JSON object")
        assert brand.incoming(token, channel_id, "hello").pair == refused(400, "the message is a JSON object")
        answer = brand.call("POST", INCOMING_PATH, params={"channelID": channel_id}, data=b"{", headers=raw)
        assert answer.pair == NOT_JSON


def message_payload(channel: MindbehindChannel, client: str, text: str, at: float) -> dict:
    message = {"type": "text", "text": text}
    return {
        "type": "message",
        "channelID": channel.channel_id,
        "clientID": client,
        "timestamp": format_instant(at),
        "message": message,
    }


def handover_payload(channel: MindbehindChannel, client: str, reason: str, at: float) -> dict:
    return {
        "type": "handover",
        "channelID": channel.channel_id,
        "clientID": client,
        "timestamp": format_instant(at),
        "reason": reason,
    }


def test_bot_reply_is_posted_to_the_send_webhook(
    brand: Brand, generic: MindbehindChannel, receiver: Receiver, t0: float
) -> None:
    answer = brand.deliver(
        BOT_REPLY, {"channelID": generic.channel_id, "clientID": "c-1", "text": "Hi, how can I help?"}
    )
    payload = message_payload(generic, "c-1", "Hi, how can I help?", t0)
    assert answer.status == 202 and answer.body["success"] is True
    delivery = answer.body["delivery"]
    assert (
        delivery["kind"] == "mindbehind.send"
        and delivery["url"] == receiver.url("/send")
        and delivery["payload"] == payload
    )
    assert delivery["state"] == "delivered" and delivery["attempts"] == [{"at": t0, "status": 200, "error": ""}]
    assert receiver.calls == [("/send", payload)]


def test_human_action_is_posted_to_the_handover_webhook(
    brand: Brand, generic: MindbehindChannel, receiver: Receiver, t0: float
) -> None:
    brand.deliver(HUMAN_ACTION, {"channelID": generic.channel_id, "clientID": "c-1", "reason": "asked for an agent"})
    brand.deliver(HUMAN_ACTION, {"channelID": generic.channel_id, "clientID": "c-2"})
    assert receiver.calls == [
        ("/handover", handover_payload(generic, "c-1", "asked for an agent", t0)),
        ("/handover", handover_payload(generic, "c-2", "Human action", t0)),
    ]


def test_deliveries_are_refused_without_a_webhook_or_a_generic_channel(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel, receiver: Receiver
) -> None:
    send_only = seed_company(emulator_server, {"type": "mindbehind", "send_webhook": receiver.url("/send")})[0]
    with unchanged(emulator_server):
        answer = brand.deliver(HUMAN_ACTION, {"channelID": send_only.channel_id, "clientID": "c-1"})
        assert answer.pair == refused(409, "the channel has no handover webhook")
        answer = brand.deliver(BOT_REPLY, {"channelID": mindbehind_channel.channel_id, "clientID": "c-1", "text": "hi"})
        assert answer.pair == refused(404, "Channel not found")
        assert brand.deliver(BOT_REPLY, {"channelID": send_only.channel_id, "text": "hi"}).pair == CLIENT_REQUIRED
    assert receiver.calls == [] and brand.deliveries(emulator_server.namespace) == []


def outgoing_attempts(control: EmulatorClient) -> list[dict]:
    return [entry for entry in control.journal() if entry["direction"] == "outgoing"]


def test_failed_delivery_is_retried_when_the_clock_passes_each_retry_time(
    brand: Brand,
    emulator_server: EmulatorHandle,
    emulator_clock: EmulatorClient,
    generic: MindbehindChannel,
    receiver: Receiver,
    t0: float,
) -> None:
    first_retry, second_retry = RETRY_SCHEDULE[0], RETRY_SCHEDULE[1]
    receiver.fail_next(2)
    answer = brand.deliver(BOT_REPLY, {"channelID": generic.channel_id, "clientID": "c-1", "text": "hi"})
    assert answer.status == 202 and answer.body["delivery"]["state"] == "pending"
    assert answer.body["delivery"]["next_attempt_at"] == t0 + first_retry

    emulator_clock.advance(first_retry - 1)
    assert len(receiver.calls) == 1, "not retried before its time"
    brand.call("POST", "/__emulator/deliveries/flush", params={"namespace": emulator_server.namespace})
    assert len(receiver.calls) == 1, "a flush attempts only what is due"
    emulator_clock.advance(1)
    assert len(receiver.calls) == 2
    emulator_clock.advance(second_retry - 1)
    assert len(receiver.calls) == 2
    emulator_clock.advance(1)

    payload = message_payload(generic, "c-1", "hi", t0)
    assert receiver.calls == [("/send", payload)] * 3
    [delivery] = brand.deliveries(emulator_server.namespace)
    at = [t0, t0 + first_retry, t0 + first_retry + second_retry]
    assert delivery["state"] == "delivered" and delivery["next_attempt_at"] is None
    assert delivery["attempts"] == [
        {"at": when, "status": status, "error": ""} for when, status in zip(at, (500, 500, 200), strict=True)
    ]
    journaled = outgoing_attempts(emulator_clock)
    seen = [(e["method"], e["path"], e["status"], e["provider"]) for e in journaled]
    assert seen == [("POST", receiver.url("/send"), status, "mindbehind") for status in (500, 500, 200)]
    assert [json.loads(e["request_body"]) for e in journaled] == [payload] * 3
    assert [e["time"] for e in journaled] == [format_instant(s) for s in at]


def test_delivery_fails_after_the_last_retry(
    brand: Brand,
    emulator_server: EmulatorHandle,
    emulator_clock: EmulatorClient,
    generic: MindbehindChannel,
    receiver: Receiver,
) -> None:
    receiver.fail_next(1_000)
    brand.deliver(HUMAN_ACTION, {"channelID": generic.channel_id, "clientID": "c-1"})
    for wait in RETRY_SCHEDULE:
        [delivery] = brand.deliveries(emulator_server.namespace)
        assert delivery["state"] == "pending"
        emulator_clock.advance(wait)
    [delivery] = brand.deliveries(emulator_server.namespace)
    assert delivery["state"] == "failed" and delivery["next_attempt_at"] is None
    assert [a["status"] for a in delivery["attempts"]] == [500] * (len(RETRY_SCHEDULE) + 1)
    emulator_clock.advance("30d")
    assert len(receiver.calls) == len(RETRY_SCHEDULE) + 1, "a failed delivery is not attempted again"
    assert len(outgoing_attempts(emulator_clock)) == len(RETRY_SCHEDULE) + 1


def test_unreachable_webhook_is_an_attempt_without_a_status(brand: Brand, emulator_server: EmulatorHandle) -> None:
    with Receiver() as gone:
        url = gone.url("/send")
    channel = seed_company(emulator_server, {"type": "mindbehind", "send_webhook": url})[0]
    answer = brand.deliver(BOT_REPLY, {"channelID": channel.channel_id, "clientID": "c-1", "text": "hi"})
    [attempt] = answer.body["delivery"]["attempts"]
    assert answer.status == 202 and attempt["status"] == 0 and attempt["error"] == "ConnectionError"
    assert answer.body["delivery"]["state"] == "pending"


# --- the plugin's fixtures ---------------------------------------------------------------------------


def test_client_token_fixture_is_valid_for_the_channels_24_hours(
    brand: Brand, emulator_clock: EmulatorClient, mindbehind_client_token: MindbehindToken
) -> None:
    channel, token, client = (
        mindbehind_client_token.channel,
        mindbehind_client_token.token,
        mindbehind_client_token.client_id,
    )
    assert client.startswith("client-") and channel.token_age_hours == 24
    emulator_clock.advance(24 * HOUR - 1)
    assert brand.token_session(channel, token, client).status == 201
    emulator_clock.advance(1)
    assert brand.token_session(channel, token, client).pair == TOKEN_EXPIRED


def test_expired_token_fixture_is_an_hour_token_an_hour_and_a_second_old(
    brand: Brand, emulator_server: EmulatorHandle, expired_mindbehind_token: MindbehindToken
) -> None:
    channel = expired_mindbehind_token.channel
    issued = company_state(emulator_server, channel.company_id)["tokens"][expired_mindbehind_token.token]
    assert (
        issued["expires_at"] - issued["issued_at"] == HOUR and issued["clientID"] == expired_mindbehind_token.client_id
    )
    assert frozen_at(emulator_server) == issued["issued_at"] + HOUR + 1
    answer = brand.token_session(channel, expired_mindbehind_token.token, expired_mindbehind_token.client_id)
    assert answer.pair == TOKEN_EXPIRED


def test_otp_fixture_is_the_pending_code_of_a_fresh_phone(
    brand: Brand, mindbehind_otp: MindbehindCode, mindbehind_channel: MindbehindChannel
) -> None:
    assert mindbehind_otp.channel == mindbehind_channel
    assert mindbehind_otp.phone.startswith("+90555") and mindbehind_otp.phone[1:].isdigit()
    read = brand.read_code(mindbehind_channel.channel_id, mindbehind_otp.phone)
    assert read.body["code"] == mindbehind_otp.code and read.body["attempts_left"] == 5
    opened = brand.code_session(mindbehind_channel.channel_id, mindbehind_otp.phone, mindbehind_otp.code)
    assert opened.status == 201 and opened.body["client"]["phone"] == mindbehind_otp.phone


# --- regressions found by these tests ----------------------------------------------------------------


def test_ttl_naming_a_company_is_refused_not_a_crash(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel
) -> None:
    """A company id is a Mindbehind tenant id but no channel: `update_settings` raises KeyError (500)."""
    answer = brand.call(
        "POST",
        "/__emulator/tokens/ttl",
        params={"namespace": emulator_server.namespace},
        json={"channel": mindbehind_channel.company_id, "token_age": 2},
    )  # (Brand.call fails on X-Emulator-Unhandled)
    assert answer.status in (400, 404) and set(answer.body) == {"error"}


def test_ttl_cannot_rename_a_channel(brand: Brand, emulator_server: EmulatorHandle) -> None:
    """tokens/ttl takes any channel field: renaming a channel to its sibling's id leaves a state that
    export/import refuses ("duplicate channel id") and an index that still routes the old id."""
    first, second = seed_company(emulator_server, {}, {})
    answer = brand.call(
        "POST",
        "/__emulator/tokens/ttl",
        params={"namespace": emulator_server.namespace},
        json={"channel": first.channel_id, "id": second.channel_id},
    )
    exported = emulator_server.control.export_state()
    reimport = brand.call("POST", "/__emulator/state", json=exported)
    assert answer.status == 400 and reimport.status == 200, (answer, reimport)


def test_ttl_changing_the_management_token_keeps_it_usable(
    brand: Brand, emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel
) -> None:
    """tokens/ttl accepts `management_token` but does not reindex: the new token, naming its tenant only
    by apiToken, reaches no namespace (401), though the rotate-token hook does reindex."""
    client = new_client()
    brand.token(mindbehind_channel, client)
    answer = brand.call(
        "POST",
        "/__emulator/tokens/ttl",
        params={"namespace": emulator_server.namespace},
        json={"channel": mindbehind_channel.channel_id, "management_token": "changed-by-ttl"},
    )
    if answer.status == 200:
        assert brand.set_key_values("changed-by-ttl", client, []).status == 200, "the token the ttl call set is refused"
    else:
        assert answer.status == 400


@pytest.mark.parametrize("url", ["http://a..b/hook", "http://" + "x" * 64 + ".example/hook"])
def test_malformed_webhook_url_is_a_failed_attempt_not_a_crash(
    brand: Brand, emulator_server: EmulatorHandle, url: str
) -> None:
    """urllib3's LocationParseError is no RequestException: it escapes the outbox, the hook answers 500
    and the delivery stays `pending` with no attempt and no next attempt, forever."""
    channel = seed_company(emulator_server, {"type": "mindbehind", "send_webhook": url})[0]
    answer = brand.deliver(BOT_REPLY, {"channelID": channel.channel_id, "clientID": "c-1", "text": "hi"})
    assert answer.status == 202 and [a["status"] for a in answer.body["delivery"]["attempts"]] == [0]


def test_hook_body_routes_without_a_json_content_type(brand: Brand, mindbehind_channel: MindbehindChannel) -> None:
    """The hooks read a JSON body whatever its Content-Type, but the namespace is looked up from the body
    only when it is `application/json`: the same body as text/plain lands in `default` (404)."""
    body = json.dumps({"channelID": mindbehind_channel.channel_id, "auth": "anonymous"})
    answer = brand.call("POST", SESSIONS, data=body, headers={"Content-Type": "text/plain"})
    assert answer.status == 201, answer


def test_get_client_of_an_unknown_company_is_not_found(brand: Brand, mindbehind_client_token: MindbehindToken) -> None:
    """Reference, Open questions: getClient for an unknown client or company -> 404 "Client not found"
    (the emulator answers 401 "Unauthorized" for a companyID that exists nowhere)."""
    channel = mindbehind_client_token.channel
    answer = brand.get_client(channel.management_token, mindbehind_client_token.client_id, "co-that-exists-nowhere")
    assert answer.pair == CLIENT_NOT_FOUND


@pytest.mark.parametrize("field, value", [("text", None), ("text", {"a": 1}), ("reason", None), ("reason", ["x"])])
def test_bot_hooks_refuse_a_non_string_text_or_reason(
    brand: Brand, generic: MindbehindChannel, receiver: Receiver, field: str, value: Json
) -> None:
    """`str(body.get(...))`: `"text": null` is delivered as the text "None", `{"a": 1}` as "{'a': 1}"."""
    hook = BOT_REPLY if field == "text" else HUMAN_ACTION
    answer = brand.deliver(hook, {"channelID": generic.channel_id, "clientID": "c-1", field: value})
    assert answer.status == 400 and answer.body["success"] is False, f"delivered {receiver.bodies()}"


def test_time_marker_freezes_the_clock_exactly_at_its_time(emulator_server: EmulatorHandle) -> None:
    """`freeze(at=T)` sends `{"set": T, "freeze": true}`; move_clock applies `set` to the running clock
    (an offset from the wall clock) and only then freezes it, so the clock stands at T plus the wall
    time between the two steps (microseconds), not at T."""
    assert frozen_at(emulator_server) == epoch(T0)


def test_state_import_refuses_a_channel_id_two_companies_share(brand: Brand, emulator_server: EmulatorHandle) -> None:
    """A seed refuses duplicate channel ids and management tokens; a state import takes them when they sit
    in two companies of one namespace (only one company's own list is checked), and then `channelID`
    reaches whichever company comes first."""
    first, second = seed_company(emulator_server, {})[0], seed_company(emulator_server, {})[0]
    state = emulator_server.control.export_state()
    companies = state["namespaces"][emulator_server.namespace]["providers"]["mindbehind"]["companies"]
    companies[second.company_id]["channels"][0].update(id=first.channel_id, management_token=first.management_token)
    answer = brand.call("POST", "/__emulator/state", json=state)
    assert answer.status == 400, answer


def test_reseeded_company_lets_go_of_its_old_channel_ids(
    emulator_server: EmulatorHandle, mindbehind_channel: MindbehindChannel, other_namespace: EmulatorClient
) -> None:
    """Seeding a company id again replaces the company, but Store.seed only adds index keys: the ids and
    tokens of its vanished channels still belong to the namespace, so no other namespace can seed them (409)."""
    replacement = {"id": fresh("ch"), "management_token": secrets.token_urlsafe(24)}
    emulator_server.control.seed(
        {"mindbehind": {"companies": [{"id": mindbehind_channel.company_id, "channels": [replacement]}]}}
    )
    assert mindbehind_channel.channel_id not in emulator_server.control.seed({})["tenants"]["mindbehind"]
    channel = {"id": mindbehind_channel.channel_id, "management_token": secrets.token_urlsafe(24)}
    other_namespace.seed({"mindbehind": {"companies": [{"id": fresh("co"), "channels": [channel]}]}})
