"""Malformed bodies, headers and tokens thrown at every route: the emulator's answers stay its own.

Every reply must be one the emulator meant to give: no exception escaped (`X-Emulator-Unhandled`), no
5xx (the LivePerson IDP's chosen `idp_error_status` aside), a JSON body (JavaScript for the JSONP route)
and, for errors, the owner's shape: LivePerson's `{"error": {time, message, internalCode, responseStatus}}`
or `{"internalErrorCode": "9007"}`, the control API's `{"error": {code, message[, field]}}`. A refused
request (status >= 400) changes the state of no namespace and creates none. Forged and tampered tokens
are refused with 9007, each kind pinned by a plain test as well as explored by hypothesis. Fault rules,
token lifecycle control and LivePerson under fault rules: test_fuzz_control.py, with these helpers.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from emulator.client import Reply
from emulator.providers.liveperson.identity import CONSUMER_JWT_SLOT, EXTERNAL_JWT_SLOT
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount
from emulator.web import NAMESPACE_HEADER, UNHANDLED_HEADER

CONTROL = "/__emulator"
LP_PREFIXES = ("/api/account/", "/csdr/", "/sentinel/")  # the paths LivePerson answers, routing errors included
LP_ERROR_FIELDS = {"time", "message", "internalCode", "responseStatus"}
INVALID_JWT = {"internalErrorCode": "9007"}
NAMESPACE_NAME = r"[A-Za-z0-9._-]{1,64}"  # the documented rule for namespace names
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND")
B64URL = string.ascii_letters + string.digits + "-_"
UNAUTH_MESSAGING = "Messaging.Un_Auth_Messaging"

# sentinels the strategies draw and the tests resolve against their fixtures
SEEDED = "<seeded>"
MINE = "<mine>"

Json = Any
JsonPath = tuple[Any, ...]


# --- what a sane reply is -------------------------------------------------------------------------


def is_lp_path(path: str) -> bool:
    return path.startswith(LP_PREFIXES)


def strict_json(raw: bytes) -> Json:
    """JSON as RFC 8259 has it: Python's NaN and Infinity extensions are not JSON."""

    def refuse(constant: str) -> Json:
        raise AssertionError(f"{constant} in a reply body is not JSON: {raw[:300]!r}")

    try:
        return json.loads(raw, parse_constant=refuse)
    except ValueError as exc:
        raise AssertionError(f"reply body is not JSON ({exc}): {raw[:300]!r}") from None


def lp_status_name(status: int) -> str:
    """`responseStatus` of LivePerson's envelope: the status's name, `HTTP_499` for one without a name."""
    try:
        return HTTPStatus(status).name
    except ValueError:
        return f"HTTP_{status}"


def assert_lp_error(status: int, body: Json) -> None:
    if body == INVALID_JWT:
        return
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == LP_ERROR_FIELDS, body
    assert isinstance(error["time"], str) and isinstance(error["message"], str), body
    assert isinstance(error["internalCode"], int) and error["responseStatus"] == lp_status_name(status), body


def assert_control_error(body: Json) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) in ({"code", "message"}, {"code", "message", "field"}), body
    assert all(isinstance(value, str) for value in error.values()), body


def check_reply(reply: Reply, path: str, idp_status: int = 401) -> Json:
    """The reply's JSON body (or JSONP text), once it is an answer the emulator meant to give."""
    assert UNHANDLED_HEADER not in reply.headers, (
        f"an exception escaped ({reply.headers[UNHANDLED_HEADER]}) on {path}: {reply.text[:300]}"
    )
    if path.endswith(".lpCsds") and reply.status == 200:
        call = re.fullmatch(r"([^(]*)\((.*)\);", reply.text, re.S)
        assert call, reply.text
        strict_json(call[2].encode())
        return reply.text
    body = strict_json(reply.body)
    if reply.status >= 500:  # the one deliberate 5xx: an account whose IDP answers invalid JWTs with one
        assert (reply.status, body) == (idp_status, INVALID_JWT), f"{reply.status} on {path}: {body}"
    if reply.status >= 400:
        if is_lp_path(path):
            assert_lp_error(reply.status, body)
        else:
            assert_control_error(body)
    return body


# --- requests, and the state they may not change ---------------------------------------------------


@dataclass(frozen=True)
class Body:
    data: bytes | None = None
    content_type: str | None = None

    @classmethod
    def of_json(cls, value: Json) -> Body:
        return cls(json.dumps(value).encode(), "application/json")

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.content_type is None else {"Content-Type": self.content_type}


NO_BODY = Body()


def world(emulator: EmulatorHandle) -> tuple[dict, dict]:
    """This test's namespace (created by the first call) and every namespace, as exported."""
    return emulator.control.export_state(), emulator.control.in_namespace("*").export_state()


def send(
    emulator: EmulatorHandle,
    method: str,
    path: str,
    body: Body = NO_BODY,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    idp_status: int = 401,
) -> tuple[Reply, Json]:
    """One request, its reply checked for sanity, and the emulator's state checked unchanged if refused."""
    before = world(emulator)
    reply = emulator.request(method, path, data=body.data, headers={**body.headers, **(headers or {})}, params=params)
    parsed = check_reply(reply, path, idp_status)
    if reply.status >= 400:
        assert world(emulator) == before, f"{method} {path} was refused ({reply.status}) yet changed state"
    return reply, parsed


def control(
    emulator: EmulatorHandle, method: str, tail: str, body: Body = NO_BODY, **params: str
) -> tuple[Reply, Json]:
    """A control API call on this test's namespace unless `namespace` is given."""
    return send(emulator, method, CONTROL + tail, body, params={"namespace": emulator.namespace, **params})


def namespace_names(emulator: EmulatorHandle) -> set[str]:
    return set(emulator.control.in_namespace("*").export_state()["namespaces"])


@contextmanager
def forgetting_new_namespaces(emulator: EmulatorHandle) -> Iterator[None]:
    """Reset the namespaces a block created (a control call may create one on success)."""
    before = namespace_names(emulator)
    try:
        yield
    finally:
        for name in namespace_names(emulator) - before:
            emulator.control.in_namespace(name).reset()


def taken_account_ids(emulator: EmulatorHandle) -> set[str]:
    namespaces = emulator.control.in_namespace("*").export_state()["namespaces"]
    return {a for ns in namespaces.values() for a in ns["providers"]["liveperson"]["accounts"]}


def fresh_account_id() -> str:
    return "9" + "".join(secrets.choice(string.digits) for _ in range(11))


def seed_account(emulator: EmulatorHandle, **fields: Json) -> LivePersonAccount:
    """Another LivePerson account with an unauthenticated connector in this test's namespace."""
    account = {"id": fresh_account_id(), "connectors": [{"id": "4242", "type": "unauthenticated"}], **fields}
    emulator.control.seed({"liveperson": {"accounts": [account]}})
    return LivePersonAccount(account["id"], "4242", 600.0, emulator)


def idp_status_of(emulator: EmulatorHandle, account_id: str) -> int:
    state = emulator.control.export_state()["namespaces"][emulator.namespace]
    return state["providers"]["liveperson"]["accounts"][account_id]["settings"]["idp_error_status"]


# --- routes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # {a} account, {s} service, {c} connector
    params: dict[str, str] = field(default_factory=dict)

    def path(self, account: str = "", service: str = "idp", connector: str = "") -> str:
        return self.template.format(a=quote(account, safe=""), s=quote(service, safe=""), c=quote(connector, safe=""))

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


AUTHORIZE = Route("POST", "/api/account/{a}/anonymous/authorize")
AUTHENTICATE = Route("POST", "/api/account/{a}/app/{c}/authenticate", {"v": "3.0"})
SIGNUP = Route("POST", "/api/account/{a}/signup")
CONNECTORS = Route("GET", "/api/account/{a}/configuration/le-connectors/all-connectors")
LP_GET_ROUTES = (
    Route("GET", "/api/account/{a}/service/baseURI.json"),
    Route("GET", "/api/account/{a}/service/baseURI"),
    Route("GET", "/api/account/{a}/service/{s}/baseURI.json"),
    Route("GET", "/api/account/{a}/service/{s}/baseURI"),
    Route("GET", "/csdr/account/{a}/service/{s}/baseURI.json"),
    Route("GET", "/csdr/account/{a}/service/{s}/baseURI.lpCsds", {"cb": "lpCb12345"}),
    CONNECTORS,
)
LOGIN_SERVICE_ROUTES = (
    Route("POST", "/api/account/{a}/login", {"v": "1.3"}),
    Route("POST", "/api/account/{a}/refresh"),
    Route("POST", "/api/account/{a}/logout"),
)
APP_CREDENTIAL_ROUTES = (
    Route("POST", "/sentinel/api/account/{a}/app/token", {"v": "1.0", "grant_type": "client_credentials"}),
    Route("POST", "/api/account/{a}/consumer", {"v": "1.0"}),
)
LP_ROUTES = (*LP_GET_ROUTES, AUTHORIZE, AUTHENTICATE, SIGNUP, *LOGIN_SERVICE_ROUTES, *APP_CREDENTIAL_ROUTES)
CONTROL_ROUTES = tuple(
    Route(method, CONTROL + tail)
    for method, tail in (
        ("GET", "/health"),
        ("POST", "/reset"),
        ("POST", "/seed"),
        ("GET", "/state"),
        ("POST", "/state"),
        ("GET", "/clock"),
        ("POST", "/clock"),
        ("GET", "/journal"),
        ("DELETE", "/journal"),
        ("GET", "/faults"),
        ("POST", "/faults"),
        ("DELETE", "/faults"),
        ("POST", "/tokens/expire"),
        ("POST", "/tokens/revoke"),
        ("POST", "/tokens/fail"),
        ("POST", "/tokens/rotate"),
        ("POST", "/tokens/ttl"),
    )
)
TEMPLATES = sorted({r.template for r in (*LP_ROUTES, *CONTROL_ROUTES)})


def allowed_methods(template: str) -> set[str]:
    return {r.method for r in (*LP_ROUTES, *CONTROL_ROUTES) if r.template == template}


def idp(
    emulator: EmulatorHandle, route: Route, account: LivePersonAccount, body: Body = NO_BODY, **kw: Any
) -> tuple[Reply, Json]:
    path = route.path(account.id, connector=account.unauth_connector_id)
    return send(emulator, route.method, path, body, params=route.params, **kw)


def with_id_token(token: Json) -> Body:
    return Body.of_json({"id_token": token})


def assert_refused(emulator: EmulatorHandle, account: LivePersonAccount, token: Json) -> None:
    """Neither the refresh (`anonymous/authorize`) nor the exchange (`authenticate`) takes the token."""
    for route in (AUTHORIZE, AUTHENTICATE):
        reply, body = idp(emulator, route, account, with_id_token(token))
        assert (reply.status, body) == (401, INVALID_JWT), f"{route} took a bad token: {reply.status} {body}"


# --- strategies -----------------------------------------------------------------------------------

NASTY_VALUES: tuple[Json, ...] = (
    10**400,
    -(10**400),
    2**63,
    1e308,
    1e12,
    -1,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    " ",
    "0",
    "-1",
    "9" * 400,
    "9" * 5000,
    "1e400",
    "nan",
    "inf",
    "\u00b2",
    "\u0663",
    "10 m",
    "-5m",
    "1.5.2h",
    "\x00",
    "x\n",
    "\U0001f642",
    "null",
    True,
    False,
    None,
    [],
    {},
    [[]],
    {"": None},
)
NASTY_BODIES = (
    b"",
    b"   ",
    b"null",
    b"{",
    b"}",
    b'{"id_token": NaN}',
    b"\xef\xbb\xbf{}",
    '{"id_token": 1}'.encode("utf-16"),
    b"\xff\xfe\x00",
    b'{"a": 1, "a": 2}',
    b"[" * 50 + b"]" * 50,
    b"1e400",
    b"--x\r\n",
    b"a=b&c=%ZZ",
    b"\x00" * 8,
)
CONTENT_TYPES = (
    None,
    "",
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/yaml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "*/*",
)

nasty = st.sampled_from(NASTY_VALUES).map(copy.deepcopy)  # a copy per draw: a caller that edits it edits no shared pick
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",)), max_size=40)
short_text = st.text(max_size=12)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), nasty)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
raw_bodies = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=40).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(NASTY_BODIES),
)
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), header_text)
bodies = st.one_of(st.builds(Body, raw_bodies, content_types), json_values.map(with_id_token))
segments = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)  # '/' and '' included: '//' paths
namespace_names_st = st.one_of(
    st.text(max_size=70),
    st.from_regex(NAMESPACE_NAME, fullmatch=True),
    st.sampled_from(["*", "", " ", "a" * 65, "x\n", ".."]),
)


def is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        return False


# --- token forging --------------------------------------------------------------------------------


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def json_segment(value: Json) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def with_segment(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


def signed(header: dict, claims: Json, sign: Callable[[bytes], bytes]) -> str:
    """A JWS built by hand, so that any header, claims and algorithm can be forged."""
    signing_input = f"{json_segment(header)}.{json_segment(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def rsa_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hmac_signer(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@lru_cache(maxsize=1)
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def external_public_pem(fmt: serialization.PublicFormat) -> bytes:
    return EXTERNAL_JWT_SLOT.fixed_key().public_key.public_bytes(serialization.Encoding.PEM, fmt)


@dataclass(frozen=True)
class Stolen:
    """What a forger holds: a genuine external JWT of the account, one of another account, an LP JWT."""

    token: str
    foreign_token: str
    lp_jwt: str

    @property
    def header(self) -> dict:
        return jwt.get_unverified_header(self.token)

    @property
    def claims(self) -> dict:
        return claims_of(self.token)


def flip(token: str, index: int) -> str:
    """Another base64url character in the middle of segment `index` (never a segment's last character,
    whose low bits may be padding that decodes to the same bytes)."""
    part = token.split(".")[index]
    at = len(part) // 2
    return with_segment(token, index, part[:at] + ("A" if part[at] != "A" else "B") + part[at + 1 :])


def unsigned(header: dict, claims: Json) -> str:
    return f"{json_segment(header)}.{json_segment(claims)}."


FORGERIES: dict[str, Callable[[Stolen], str]] = {
    "header-char-flipped": lambda s: flip(s.token, 0),
    "payload-char-flipped": lambda s: flip(s.token, 1),
    "signature-char-flipped": lambda s: flip(s.token, 2),
    "claims-rewritten-signature-kept": lambda s: with_segment(
        s.token, 1, json_segment({**s.claims, "sub": "intruder"})
    ),
    "signature-truncated": lambda s: s.token[:-8],
    "signature-empty": lambda s: with_segment(s.token, 2, ""),
    "two-segments": lambda s: s.token.rsplit(".", 1)[0],
    "alg-none-pyjwt": lambda s: jwt.encode(s.claims, None, algorithm="none", headers={"kid": s.header["kid"]}),
    "alg-None-capitalised": lambda s: unsigned({**s.header, "alg": "None"}, s.claims),
    "alg-NONE-upper": lambda s: unsigned({**s.header, "alg": "NONE"}, s.claims),
    "alg-none-signature-kept": lambda s: with_segment(s.token, 0, json_segment({**s.header, "alg": "none"})),
    "alg-missing": lambda s: with_segment(s.token, 0, json_segment({"kid": s.header["kid"], "typ": "JWT"})),
    "hs256-keyed-with-public-pem": lambda s: signed(
        {**s.header, "alg": "HS256"},
        s.claims,
        hmac_signer(external_public_pem(serialization.PublicFormat.SubjectPublicKeyInfo)),
    ),
    "hs256-keyed-with-public-pem-pkcs1": lambda s: signed(
        {**s.header, "alg": "HS256"}, s.claims, hmac_signer(external_public_pem(serialization.PublicFormat.PKCS1))
    ),
    "fresh-rsa-key-same-kid": lambda s: signed(s.header, s.claims, rsa_signer(attacker_key())),
    "fresh-rsa-key-embedded-jwk": lambda s: signed(
        {**s.header, "jwk": jwt.algorithms.RSAAlgorithm.to_jwk(attacker_key().public_key(), as_dict=True)},
        s.claims,
        rsa_signer(attacker_key()),
    ),
    "emulators-consumer-key-same-kid": lambda s: signed(
        s.header, s.claims, rsa_signer(CONSUMER_JWT_SLOT.fixed_key().private_key)
    ),
    "other-accounts-token": lambda s: s.foreign_token,
    "lp-consumer-jwt": lambda s: s.lp_jwt,
}


@dataclass(frozen=True)
class Mutation:
    """A change to a token's text that changes what was signed or the signature's bytes."""

    kind: str  # replace | truncate | append | drop | swap
    segment: int
    at: float  # where, as a fraction of the segment (or token)
    text: str  # base64url characters

    def apply(self, token: str) -> str:
        parts = token.split(".")
        part = parts[self.segment]
        if self.kind == "replace":
            i = int(self.at * (len(part) - 1))  # never the last character (padding bits)
            char = self.text[0] if self.text[0] != part[i] else B64URL[(B64URL.index(part[i]) + 1) % len(B64URL)]
            parts[self.segment] = part[:i] + char + part[i + 1 :]
        elif self.kind == "truncate":
            return token[: int(self.at * len(token))]
        elif self.kind == "append":
            parts[self.segment] = part + self.text
        elif self.kind == "drop":
            del parts[self.segment]
        else:
            other = (self.segment + 1) % 3
            parts[self.segment], parts[other] = parts[other], part
        return ".".join(parts)


mutations = st.builds(
    Mutation,
    st.sampled_from(["replace", "truncate", "append", "drop", "swap"]),
    st.integers(0, 2),
    st.floats(0, 1, exclude_max=True),
    st.text(B64URL, min_size=1, max_size=4),
)


@pytest.fixture
def stolen(emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_ext_jwt: str, lp_jwt: str) -> Stolen:
    return Stolen(lp_ext_jwt, seed_account(emulator).issue_ext_jwt(), lp_jwt)


# --- LivePerson: any request ----------------------------------------------------------------------


@settings(max_examples=150)
@given(
    route=st.sampled_from(LP_ROUTES),
    method=st.one_of(st.none(), st.sampled_from(HTTP_METHODS)),
    account=st.one_of(st.just(SEEDED), segments, st.from_regex(r"[0-9]{1,12}", fullmatch=True)),
    service=st.one_of(st.sampled_from(["idp", "asyncMessagingEnt", "IDP"]), segments),
    connector=st.one_of(st.just(SEEDED), segments),
    params=st.one_of(st.none(), st.dictionaries(st.sampled_from(["v", "cb"]) | short_text, header_text, max_size=3)),
    body=bodies,
    namespace=st.one_of(st.just(MINE), header_text),
)
def test_liveperson_routes_survive_any_request(
    emulator: EmulatorHandle,
    lp_account: LivePersonAccount,
    route: Route,
    method: str | None,
    account: str,
    service: str,
    connector: str,
    params: dict[str, str] | None,
    body: Body,
    namespace: str,
) -> None:
    path = route.path(
        lp_account.id if account == SEEDED else account,
        service,
        lp_account.unauth_connector_id if connector == SEEDED else connector,
    )
    headers = {NAMESPACE_HEADER: emulator.namespace if namespace == MINE else namespace}
    send(
        emulator, method or route.method, path, body, headers=headers, params=route.params if params is None else params
    )


@given(
    route=st.sampled_from(LP_ROUTES),
    account=st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=20),
)
def test_unknown_account_is_an_invalid_site(emulator: EmulatorHandle, route: Route, account: str) -> None:
    assume(account not in taken_account_ids(emulator) and account not in (".", ".."))
    reply, body = send(emulator, route.method, route.path(account, connector="1"), params=route.params)
    assert reply.status == 401 and body["error"]["message"] == "invalid site", body


@pytest.mark.parametrize("template", TEMPLATES)
def test_wrong_method_is_405_in_the_owners_shape(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, template: str
) -> None:
    path = Route("GET", template).path(lp_account.id, connector=lp_account.unauth_connector_id)
    for method in sorted(set(HTTP_METHODS) - allowed_methods(template)):
        reply, body = send(emulator, method, path)
        assert reply.status == 405, (method, body)
        code = body["error"]["responseStatus"] if is_lp_path(path) else body["error"]["code"]
        assert code in ("METHOD_NOT_ALLOWED", "method_not_allowed"), (method, body)


@given(
    prefix=st.sampled_from(
        ["/api/account/" + SEEDED + "/", "/api/account/", "/csdr/", "/sentinel/", CONTROL + "/", "/"]
    ),
    tail=st.lists(segments, min_size=1, max_size=4),
    method=st.sampled_from(HTTP_METHODS),
)
def test_unknown_path_is_404_in_the_owners_shape(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, prefix: str, tail: list[str], method: str
) -> None:
    path = prefix.replace(SEEDED, lp_account.id) + "/".join(quote("zz" + t, safe="") for t in tail)
    reply, _ = send(emulator, method, path)
    assert reply.status == 404


@settings(max_examples=60)
@given(cb=st.one_of(header_text, st.from_regex(r"[A-Za-z_$][\w$.]{0,70}", fullmatch=True)))
def test_jsonp_callback_is_a_javascript_name_or_refused(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, cb: str
) -> None:
    path = f"/csdr/account/{lp_account.id}/service/idp/baseURI.lpCsds"
    reply, body = send(emulator, "GET", path, params={"cb": cb})
    if reply.status == 200:
        assert body.startswith(cb + "(") and re.fullmatch(r"[A-Za-z_$][\w$.]*", cb.strip()), body
    else:
        assert reply.status == 400, body


@settings(max_examples=60)
@given(value=st.one_of(header_text, st.from_regex(NAMESPACE_NAME, fullmatch=True)), seeded=st.booleans())
@example(value="../not a namespace", seeded=False)
@example(value="", seeded=True)
def test_namespace_header_is_checked_only_when_it_decides(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, value: str, seeded: bool
) -> None:
    """A seeded account's namespace wins over the header; else a bad name is a 400, never a new namespace."""
    account = lp_account.id if seeded else "888888888888"
    assume(seeded or account not in taken_account_ids(emulator))
    reply, body = send(
        emulator, "GET", f"/api/account/{account}/service/baseURI.json", headers={NAMESPACE_HEADER: value}
    )
    if seeded:
        assert reply.status == 200, body
    elif re.fullmatch(NAMESPACE_NAME, value):
        assert reply.status == 401, body
    else:
        assert reply.status == 400 and "namespace" in body["error"]["message"], body


# --- LivePerson IDP: bodies and tokens --------------------------------------------------------------


@given(id_token=json_values)
@example(id_token=None)
@example(id_token=0)
@example(id_token=1.5)
@example(id_token=True)
@example(id_token="")
@example(id_token=[])
@example(id_token={})
def test_id_token_of_any_type_is_refused(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, id_token: Json
) -> None:
    reply, body = idp(emulator, AUTHORIZE, lp_account, with_id_token(id_token))
    if id_token is None:  # an explicit null asks for a new consumer
        assert reply.status == 200 and set(body) == {"token"}, body
    else:
        assert (reply.status, body) == (401, INVALID_JWT)
    reply, body = idp(emulator, AUTHENTICATE, lp_account, with_id_token(id_token))
    assert (reply.status, body) == (401, INVALID_JWT)


@given(
    route=st.sampled_from([AUTHORIZE, AUTHENTICATE]),
    raw=raw_bodies.filter(lambda raw: bool(raw.strip()) and not is_json_object(raw)),
    content_type=content_types,
)
def test_body_that_is_not_a_json_object_is_a_bad_request(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, route: Route, raw: bytes, content_type: str | None
) -> None:
    reply, body = idp(emulator, route, lp_account, Body(raw, content_type))
    assert reply.status == 400 and body["error"]["responseStatus"] == "BAD_REQUEST", body


def test_genuine_token_is_accepted(emulator: EmulatorHandle, lp_account: LivePersonAccount, stolen: Stolen) -> None:
    """The forgeries below are refused for what they forge, not because the genuine token is refused."""
    for route in (AUTHORIZE, AUTHENTICATE):
        reply, body = idp(emulator, route, lp_account, with_id_token(stolen.token))
        assert reply.status == 200 and set(body) == {"token"}, body


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_token_is_refused(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, stolen: Stolen, forgery: str
) -> None:
    token = FORGERIES[forgery](stolen)
    assert token != stolen.token
    assert_refused(emulator, lp_account, token)


def test_expired_token_is_refreshed_but_not_exchanged(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, expired_ext_jwt: str
) -> None:
    reply, body = idp(emulator, AUTHENTICATE, lp_account, with_id_token(expired_ext_jwt))
    assert (reply.status, body) == (401, INVALID_JWT)
    reply, body = idp(emulator, AUTHORIZE, lp_account, with_id_token(expired_ext_jwt))
    assert reply.status == 200, body


@settings(max_examples=100)
@given(mutation=mutations)
def test_tampered_token_is_refused(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_ext_jwt: str, mutation: Mutation
) -> None:
    token = mutation.apply(lp_ext_jwt)
    assume(token != lp_ext_jwt)
    assert_refused(emulator, lp_account, token)


CLAIMS = ("iss", "aud", "sub", "iat", "exp", "nbf", "auth_time")


@settings(max_examples=60)
@given(
    overrides=st.dictionaries(st.sampled_from(CLAIMS) | short_text, st.one_of(nasty, json_values), max_size=3),
    dropped=st.sets(st.sampled_from(CLAIMS), max_size=2),
)
@example(overrides={"auth_time": 10**400}, dropped=set())
def test_any_claims_signed_with_the_emulators_key_are_answered(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_ext_jwt: str, overrides: dict, dropped: set
) -> None:
    """The fixed external key ships with the emulator: tokens with any claims it signs are taken or
    refused with 9007, never a crash."""
    claims = {k: v for k, v in {**claims_of(lp_ext_jwt), **overrides}.items() if k not in dropped}
    token = signed(jwt.get_unverified_header(lp_ext_jwt), claims, rsa_signer(EXTERNAL_JWT_SLOT.fixed_key().private_key))
    for route in (AUTHORIZE, AUTHENTICATE):
        reply, body = idp(emulator, route, lp_account, with_id_token(token))
        assert reply.status == 200 or (reply.status, body) == (401, INVALID_JWT), body


# --- control API ----------------------------------------------------------------------------------


@given(document=json_values)
def test_seed_survives_any_json(emulator: EmulatorHandle, document: Json) -> None:
    reply, body = control(emulator, "POST", "/seed", Body.of_json(document))
    assert reply.status in (200, 400), body
    if reply.status == 400:
        assert body["error"]["code"] == "invalid_seed", body


NASTY_YAML = (
    "liveperson: [",
    "liveperson: {accounts: [{id: 2020-01-01}]}",
    "!!python/object/apply:os.system ['true']",
    "a: &a [*a]",
    "? [a]\n: b",
    "\t- x",
    "%YAML 9.9\n---\n",
    "--- !!binary AAAA",
    "liveperson: !!set {a}",
    "liveperson:\n  accounts:\n  - id: '1'\n    features: &f [*f]",
    "---\n...\n---\n",
    "{liveperson: {accounts: [1, 2]}}",
)


@given(
    text=st.one_of(st.text(max_size=80), st.sampled_from(NASTY_YAML)).map(str.encode) | st.binary(max_size=40),
    content_type=st.one_of(
        st.sampled_from(["application/yaml", "text/yaml", "text/plain", "application/x-yaml"]), header_text
    ),
)
def test_seed_survives_any_text(emulator: EmulatorHandle, text: bytes, content_type: str) -> None:
    with forgetting_new_namespaces(emulator):
        reply, body = control(emulator, "POST", "/seed", Body(text, content_type))
    assert reply.status in (200, 400, 409), body


def probe_account(emulator: EmulatorHandle, account_id: str) -> None:
    """Every LivePerson route of an account the emulator accepted answers sanely."""
    status = idp_status_of(emulator, account_id)
    for route in LP_GET_ROUTES:
        send(emulator, route.method, route.path(account_id), params=route.params)
    reply, body = send(emulator, "POST", AUTHORIZE.path(account_id))
    token = body["token"] if reply.status == 200 else "not-a-token"
    send(emulator, "POST", AUTHORIZE.path(account_id), with_id_token(token), idp_status=status)
    send(emulator, "POST", SIGNUP.path(account_id))
    reply, connectors = send(emulator, "GET", CONNECTORS.path(account_id))
    for connector in connectors if reply.status == 200 else []:
        path = AUTHENTICATE.path(account_id, connector=str(connector["id"]))
        send(emulator, "POST", path, with_id_token(token), params=AUTHENTICATE.params, idp_status=status)
    control(emulator, "GET", "/state")


def account_template(account_id: str) -> dict:
    return {
        "id": account_id,
        "features": [UNAUTH_MESSAGING],
        "settings": {
            "ext_jwt_ttl": "10m",
            "ext_jwt_refresh_window": "730h",
            "session_ttl": 28800,
            "consumer_jwt_ttl": "1h",
            "signup_jwt_ttl": "2d",
            "idp_error_status": 401,
        },
        "connectors": [
            {"id": "123", "type": "unauthenticated", "name": "web"},
            {
                "id": 124,
                "type": "authenticated",
                "issuer": "https://brand.example",
                "jwks_url": "https://brand.example/jwks",
            },
        ],
        "users": [{"username": "agent", "password": "secret"}],
        "apps": [{"client_id": "client", "client_secret": "secret"}],
        "consumers": {"c1": {"consumer_id": "c1", "kind": "anonymous", "first_seen": 0}},
    }


SETTINGS = tuple(account_template("1")["settings"])


def positions(document: Json, prefix: JsonPath = ()) -> list[JsonPath]:
    """Every place in a JSON document below its root."""
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    found: list[JsonPath] = []
    for key, value in items:
        found += [(*prefix, key), *positions(value, (*prefix, key))]
    return found


@dataclass(frozen=True)
class Edit:
    """One wrong thing put into a valid document: a value replaced or deleted, a key renamed or added."""

    kind: str  # replace | delete | rename | add
    where: float | JsonPath  # a position, or a fraction of the document's positions
    value: Json

    def apply(self, document: Json) -> Json:
        document = copy.deepcopy(document)
        places = positions(document)
        if not places:  # an earlier edit emptied the document
            return document
        *parents, last = self.where if isinstance(self.where, tuple) else places[int(self.where * len(places))]
        container = document
        for key in parents:
            container = container[key]
        if self.kind == "delete":
            del container[last]
        elif self.kind == "rename" and isinstance(container, dict):
            container[self.value if isinstance(self.value, str) else json.dumps(self.value)] = container.pop(last)
        elif self.kind == "add" and isinstance(container[last], dict):
            container[last]["unexpected"] = self.value
        else:
            container[last] = self.value
        return document


edits = st.lists(
    st.builds(
        Edit,
        st.sampled_from(["replace", "replace", "delete", "rename", "add"]),
        st.floats(0, 1, exclude_max=True),
        st.one_of(nasty, json_values),
    ),
    min_size=1,
    max_size=2,
)


def seed_document(account_id: str) -> dict:
    return {"liveperson": {"accounts": [account_template(account_id)]}}


def seed_and_probe(emulator: EmulatorHandle, document: Json) -> None:
    """A seed is refused in the control API's shape, or its accounts all work (in a fresh namespace)."""
    emulator.control.reset()
    reply, body = control(emulator, "POST", "/seed", Body.of_json(document))
    assert reply.status in (200, 400, 409), body
    if reply.status == 400:
        assert body["error"]["code"] == "invalid_seed", body
    if reply.status == 200:
        for account_id in body["tenants"]["liveperson"]:
            probe_account(emulator, account_id)


@settings(max_examples=100)
@given(changes=edits)
@example(changes=[Edit("replace", ("liveperson", "accounts", 0, "consumers", "c1", "first_seen"), "1e400")])
def test_seed_with_wrong_fields_is_refused_or_works(emulator: EmulatorHandle, changes: list[Edit]) -> None:
    document = seed_document(fresh_account_id())
    for change in changes:
        document = change.apply(document)
    seed_and_probe(emulator, document)


WRONG_TYPES: tuple[Json, ...] = ([], ["123"], {}, {"unexpected": 1}, True, None, -1, 2.5, "x", "")


@pytest.mark.parametrize("where", positions(seed_document("1")), ids=lambda where: ".".join(map(str, where)))
def test_every_seed_field_of_a_wrong_type_is_refused_or_works(emulator: EmulatorHandle, where: JsonPath) -> None:
    changes = [Edit("replace", where, value) for value in WRONG_TYPES] + [
        Edit("add", where, 1),
        Edit("delete", where, None),
    ]
    for change in changes:
        seed_and_probe(emulator, change.apply(seed_document(fresh_account_id())))


@settings(max_examples=60)
@given(setting=st.sampled_from(SETTINGS), value=st.one_of(nasty, json_values, st.floats(), st.integers()))
@example(setting="ext_jwt_ttl", value="9" * 400)
def test_any_setting_is_refused_or_works(emulator: EmulatorHandle, setting: str, value: Json) -> None:
    document = seed_document(fresh_account_id())
    document["liveperson"]["accounts"][0]["settings"][setting] = value
    seed_and_probe(emulator, document)


iso_times = st.builds(
    lambda moment, zone: moment.isoformat() + zone,
    st.datetimes(),
    st.sampled_from(["", "Z", "+14:00", "-12:00", "+00:00"]),
)
durations = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(min_value=0), st.sampled_from(["", "ms", "s", "m", "h", "d"])
)
clock_values = st.one_of(nasty, json_values, iso_times, durations, st.floats(min_value=0), st.integers(min_value=0))


@settings(max_examples=100)
@given(
    body=st.dictionaries(st.sampled_from(["set", "advance", "freeze"]) | short_text, clock_values, max_size=3)
    | json_values
)
@example(body={"advance": 1e12})
@example(body={"set": "0001-01-01T00:00:00+14:00"})
def test_clock_survives_any_body(emulator: EmulatorHandle, body: Json) -> None:
    emulator.control.reset()  # a fresh clock for each example
    reply, parsed = control(emulator, "POST", "/clock", Body.of_json(body))
    assert reply.status in (200, 400), parsed
    if reply.status == 400:
        assert parsed["error"]["code"] in ("invalid_clock", "invalid_body", "malformed_json"), parsed
    else:  # the clock it moved still tells the time, to the control API and to a provider request
        control(emulator, "GET", "/clock")
        send(emulator, "GET", "/api/account/1/service/baseURI.json")


def probe_namespace(emulator: EmulatorHandle, name: str) -> None:
    params = {"namespace": name}
    for tail in ("/state", "/clock"):
        send(emulator, "GET", CONTROL + tail, params=params)
    send(emulator, "GET", "/api/account/1/service/baseURI.json", headers={NAMESPACE_HEADER: name})


def import_and_probe(emulator: EmulatorHandle, document: Json) -> None:
    """A state document (`MINE` standing for this test's namespace) is refused in the control API's
    shape, or the namespaces it restored work."""
    namespaces = document.get("namespaces") if isinstance(document, dict) else None
    if isinstance(namespaces, dict) and MINE in namespaces:
        renamed = {emulator.namespace if name == MINE else name: data for name, data in namespaces.items()}
        document = {**document, "namespaces": renamed}
    with forgetting_new_namespaces(emulator):
        reply, body = control(emulator, "POST", "/state", Body.of_json(document))
        assert reply.status in (200, 400, 409), body
        if reply.status == 400:
            assert body["error"]["code"] in ("invalid_state", "invalid_body"), body
        if reply.status == 200:
            for name in body["imported"]:
                probe_namespace(emulator, name)
                state = emulator.control.in_namespace(name).export_state()["namespaces"][name]
                for account_id in state["providers"]["liveperson"]["accounts"] if name == emulator.namespace else ():
                    probe_account(emulator, account_id)


@given(
    document=st.one_of(
        json_values, json_values.map(lambda v: {"namespaces": v}), json_values.map(lambda v: {"namespaces": {MINE: v}})
    )
)
@example(document={"namespaces": {MINE: {"clock": {"offset": "nan"}}}})
def test_state_import_survives_any_json(emulator: EmulatorHandle, document: Json) -> None:
    import_and_probe(emulator, document)


@settings(max_examples=100)
@given(changes=edits)
@example(changes=[Edit("replace", ("namespaces", MINE, "keys", "liveperson.external", "generation"), float("inf"))])
def test_state_import_of_a_tampered_export_is_refused_or_works(emulator: EmulatorHandle, changes: list[Edit]) -> None:
    emulator.control.reset()
    seed_account(emulator).issue_ext_jwt()  # a consumer in the state
    document = {"namespaces": {MINE: emulator.control.export_state()["namespaces"][emulator.namespace]}}
    for change in changes:
        document = change.apply(document)
    import_and_probe(emulator, document)


def test_imported_account_cannot_alias_another_accounts_id(
    emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_ext_jwt: str
) -> None:
    """A restored account filed under a key other than its id must not take the tokens of the account
    whose id it carries (the fixed keys are shared by every namespace): refuse the import or the token."""
    alias = fresh_account_id()
    account = {"id": lp_account.id, "connectors": [{"id": "5", "type": "unauthenticated"}]}
    document = {
        "namespaces": {emulator.namespace + "-alias": {"providers": {"liveperson": {"accounts": {alias: account}}}}}
    }
    with forgetting_new_namespaces(emulator):
        reply, _ = control(emulator, "POST", "/state", Body.of_json(document))
        if reply.status == 200:
            path = AUTHENTICATE.path(alias, connector="5")
            reply, body = send(emulator, "POST", path, with_id_token(lp_ext_jwt), params=AUTHENTICATE.params)
            assert (reply.status, body) == (401, INVALID_JWT), f"account {alias} took account {lp_account.id}'s token"


@settings(max_examples=60)
@given(
    params=st.dictionaries(
        st.sampled_from(["limit", "provider", "method", "path", "namespace"]) | short_text,
        st.one_of(header_text, st.sampled_from(["\u00b2", "-1", "0", "**", "*", "[", "\\", "liveperson", "*"])),
        max_size=4,
    )
)
@example(params={"limit": "\u00b2"})
def test_journal_survives_any_filter(emulator: EmulatorHandle, params: dict[str, str]) -> None:
    reply, body = send(emulator, "GET", CONTROL + "/journal", params=params)
    assert reply.status in (200, 400), body
    if reply.status == 400:
        assert body["error"]["code"] in ("invalid_filter", "invalid_namespace"), body


NAMESPACED_CALLS = (  # control calls that act on `?namespace=`, with a body they accept, and whether '*' is allowed
    ("POST", "/reset", NO_BODY, True),
    ("POST", "/seed", NO_BODY, False),
    ("GET", "/state", NO_BODY, True),
    ("GET", "/clock", NO_BODY, False),
    ("POST", "/clock", Body.of_json({"freeze": False}), False),
    ("GET", "/journal", NO_BODY, True),
    ("DELETE", "/journal", NO_BODY, True),
    ("GET", "/faults", NO_BODY, False),
    ("POST", "/faults", Body.of_json({"kind": "reset", "match": {"path": "/nowhere"}}), False),
    ("DELETE", "/faults", NO_BODY, False),
    ("POST", "/tokens/revoke", Body.of_json({"consumer": "nobody"}), False),
    ("POST", "/tokens/expire", Body.of_json({"consumer": "nobody", "at": "2030-01-01T00:00:00Z"}), False),
)


@settings(max_examples=100)
@given(call=st.sampled_from(NAMESPACED_CALLS), name=namespace_names_st)
@example(call=NAMESPACED_CALLS[2], name="x\n")
def test_namespace_parameter_is_a_name_or_refused(
    emulator: EmulatorHandle, call: tuple[str, str, Body, bool], name: str
) -> None:
    method, tail, body, allows_all = call
    assume(not (name == "*" and tail == "/reset"))  # '*' resets every namespace: not a garbage input
    with forgetting_new_namespaces(emulator):
        reply, parsed = send(emulator, method, CONTROL + tail, body, params={"namespace": name})
    if re.fullmatch(NAMESPACE_NAME, name) or (name == "*" and allows_all):
        assert reply.status in (200, 201), parsed
    else:
        assert reply.status == 400 and parsed["error"]["code"] == "invalid_namespace", parsed
        assert parsed["error"]["field"] == "namespace", parsed


# --- regressions: the smallest requests found to break the rules above --------------------------------


@dataclass(frozen=True)
class Step:
    """One request; `@ACCOUNT` (the seeded account), `@FRESH` (an unused account id) and `@NS` are filled in."""

    method: str
    path: str
    body: Body = NO_BODY
    params: tuple[tuple[str, str], ...] = ()


NS_PARAM = (("namespace", "@NS"),)


def seed_step(settings_: dict | None = None, connector_id: str = "5") -> Step:
    account = {
        "id": "@FRESH",
        "connectors": [{"id": connector_id, "type": "unauthenticated"}],
        "settings": settings_ or {},
    }
    return Step("POST", CONTROL + "/seed", Body.of_json({"liveperson": {"accounts": [account]}}), NS_PARAM)


def import_step(namespace_state: dict) -> Step:
    return Step("POST", CONTROL + "/state", Body.of_json({"namespaces": {"@NS": namespace_state}}))


def clock_step(change: dict) -> Step:
    return Step("POST", CONTROL + "/clock", Body.of_json(change), NS_PARAM)


GET_CLOCK = Step("GET", CONTROL + "/clock", params=NS_PARAM)
GET_STATE = Step("GET", CONTROL + "/state", params=NS_PARAM)
AUTHORIZE_FRESH = Step("POST", "/api/account/@FRESH/anonymous/authorize")
DEEP = b"[" * 5000

REGRESSIONS: dict[str, list[Step]] = {
    "deep-json-to-liveperson": [
        Step("POST", "/api/account/@ACCOUNT/anonymous/authorize", Body(DEEP, "application/json"))
    ],
    "deep-json-to-control": [Step("POST", CONTROL + "/seed", Body(DEEP, "application/json"), NS_PARAM)],
    "deep-yaml-to-control": [Step("POST", CONTROL + "/seed", Body(b"- " * 5000 + b"x", "application/yaml"), NS_PARAM)],
    "infinite-duration-seeded": [seed_step({"ext_jwt_ttl": "9" * 400}), AUTHORIZE_FRESH],
    "huge-integer-duration-seeded": [seed_step({"ext_jwt_ttl": 10**400})],
    "nan-duration-seeded": [seed_step({"session_ttl": float("nan")}), GET_STATE],
    "5000-digit-connector-id": [
        seed_step(connector_id="9" * 5000),
        Step("GET", "/api/account/@FRESH/configuration/le-connectors/all-connectors"),
    ],
    "clock-advanced-past-year-9999": [clock_step({"advance": 1e12}), GET_CLOCK],
    "clock-set-before-year-1": [clock_step({"set": "0001-01-01T00:00:00+14:00"}), GET_CLOCK],
    "journal-limit-superscript-two": [Step("GET", CONTROL + "/journal", params=(("limit", "\u00b2"),))],
    "imported-nan-clock-offset": [import_step({"clock": {"offset": "nan"}}), GET_CLOCK],
    "imported-huge-clock-offset": [import_step({"clock": {"offset": 10**400}}), GET_CLOCK],
    "imported-infinite-key-generation": [
        import_step({"keys": {"liveperson.external": {"generation": float("inf"), "keys": [{"kid": "idp-ext-00001"}]}}})
    ],
    "imported-nan-key-retire-at": [
        import_step({"keys": {"liveperson.external": {"keys": [{"kid": "idp-ext-00001", "retire_at": float("nan")}]}}}),
        GET_STATE,
    ],
    "imported-token-sequence-at-the-digit-limit": [  # the next token's sequence has more digits than json.dumps writes
        import_step(
            {
                "tokens": {"last_sequence": int("9" * 4300)},
                "providers": {
                    "liveperson": {
                        "accounts": {"@FRESH": {"id": "@FRESH", "connectors": [{"id": "5", "type": "unauthenticated"}]}}
                    }
                },
            }
        ),
        AUTHORIZE_FRESH,
        GET_STATE,
    ],
    "double-slash-in-liveperson-path": [Step("GET", "/api/account/@ACCOUNT//service/baseURI.json")],
    "double-slash-in-control-path": [Step("GET", CONTROL + "//health")],
}


@pytest.mark.parametrize("regression", REGRESSIONS)
def test_regression(emulator: EmulatorHandle, lp_account: LivePersonAccount, regression: str) -> None:
    fills = {"@ACCOUNT": lp_account.id, "@FRESH": fresh_account_id(), "@NS": emulator.namespace}

    def fill(text: str) -> str:
        for placeholder, value in fills.items():
            text = text.replace(placeholder, value)
        return text

    for step in REGRESSIONS[regression]:
        data = None if step.body.data is None else fill(step.body.data.decode("latin-1")).encode("latin-1")
        params = {key: fill(value) for key, value in step.params}
        send(emulator, step.method, fill(step.path), Body(data, step.body.content_type), params=params)


def test_namespace_name_with_a_trailing_newline_is_refused(emulator: EmulatorHandle) -> None:
    with forgetting_new_namespaces(emulator):
        reply, body = send(emulator, "GET", CONTROL + "/state", params={"namespace": emulator.namespace + "\n"})
    assert reply.status == 400 and body["error"]["code"] == "invalid_namespace", body
