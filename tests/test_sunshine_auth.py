"""Sunshine Conversations v2 server authentication (reference 1.1-1.4, "What the emulator must get right" 2).

Every refusal is pinned exactly: status, the v2 envelope `{"errors": [{"code", "title"}]}`, and the
emulator's own `X-Emulator-Reason` header, which tells apart refusals that share a title. The titles of
the 401s are not published [?]; the emulator's are pinned as implemented. The clock of each test's
namespace is frozen at T0, so `exp` and `nbf` are counted exactly; time passes only by moving it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.client import EmulatorError
from emulator.providers.sunshine.auth import sign_jwt
from emulator.pytest_plugin import SunshineApp

T0 = "2026-03-01T00:00:00Z"
NOW = 1_772_323_200  # T0 in epoch seconds

pytestmark = pytest.mark.emulator_time(T0)


def error(code: str, title: str) -> dict:
    return {"errors": [{"code": code, "title": title}]}


UNAUTHORIZED = error("unauthorized", "Authorization is required")
FORBIDDEN = error("forbidden", "Forbidden")


def refused(reply: Any, status: int, body: dict, reason: str) -> None:
    """A refusal, exactly: status, body, JSON content type, and why (the emulator's reason header)."""
    assert (reply.status, reply.json()) == (status, body), reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["X-Emulator-Reason"] == reason


def invalid_auth(reply: Any, title: str, reason: str) -> None:
    refused(reply, 401, error("invalid_auth", title), reason)


def basic(key_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def get_user(app: SunshineApp, ref: str, headers: dict) -> Any:
    return app.request("GET", f"users/{ref}", headers=headers)


@pytest.fixture
def user(sunshine_user):
    return sunshine_user


@pytest.fixture
def other_app(emulator_backend) -> SunshineApp:
    """A second app of the same namespace, with its own app key (and the same kind of account key)."""
    app_id, key_id, secret = secrets.token_hex(12), f"app_{secrets.token_hex(12)}", secrets.token_urlsafe(18)
    emulator_backend.control.seed({"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}]}})
    return SunshineApp(app_id, key_id, secret, "", "", emulator_backend)


# --- missing or unusable Authorization -------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "   "], ids=["absent", "empty", "blank"])
@pytest.mark.parametrize(
    "path", ["/v2/apps", "/v2/apps/{app}", "/v2/apps/{app}/users/{user}", "/sc/v2/apps/{app}/users/{user}"]
)
def test_a_request_without_authorization_is_401_unauthorized(sunshine_app, user, header, path):
    headers = {} if header is None else {"Authorization": header}
    reply = sunshine_app.handle.get(path.format(app=sunshine_app.id, user=user.id), headers=headers)
    refused(reply, 401, UNAUTHORIZED, "missing_authorization")


def test_a_post_without_authorization_creates_nothing(sunshine_app):
    reply = sunshine_app.handle.post(sunshine_app.path("users"), json={"externalId": "nobody"})
    refused(reply, 401, UNAUTHORIZED, "missing_authorization")
    refused(
        sunshine_app.request("GET", "users/nobody"), 404, error("user_not_found", "User not found"), "user_not_found"
    )


def test_an_unknown_scheme_is_invalid_auth(sunshine_app, user):
    reply = get_user(sunshine_app, user.id, {"Authorization": f"Token {sunshine_app.secret}"})
    invalid_auth(reply, "Unsupported authorization scheme", "unsupported_scheme")


# --- Basic keyId:secret --------------------------------------------------------------------------------


def test_basic_with_the_app_key_and_with_the_account_key(sunshine_app, user):
    for headers in (sunshine_app.basic_headers(), sunshine_app.basic_headers(account=True)):
        reply = get_user(sunshine_app, user.id, headers)
        assert (reply.status, reply.json()["user"]["id"]) == (200, user.id)


def test_the_scheme_name_is_case_insensitive(sunshine_app, user):
    credentials = sunshine_app.basic_headers()["Authorization"].split(" ", 1)[1]
    assert get_user(sunshine_app, user.id, {"Authorization": f"basic {credentials}"}).status == 200
    assert get_user(sunshine_app, user.id, {"Authorization": f"bearer {sunshine_app.jwt()}"}).status == 200


BAD_BASIC: dict[str, Callable[[SunshineApp], str]] = {
    "wrong secret": lambda a: base64.b64encode(f"{a.key_id}:{a.secret}x".encode()).decode(),
    "empty secret": lambda a: base64.b64encode(f"{a.key_id}:".encode()).decode(),
    "secret of the account key": lambda a: base64.b64encode(f"{a.key_id}:{a.account_secret}".encode()).decode(),
    "unknown key": lambda a: base64.b64encode(f"app_{secrets.token_hex(12)}:{a.secret}".encode()).decode(),
    "no colon": lambda a: base64.b64encode(f"{a.key_id}{a.secret}".encode()).decode(),
    "secret only": lambda a: base64.b64encode(a.secret.encode()).decode(),
}


@pytest.mark.parametrize("make", BAD_BASIC.values(), ids=list(BAD_BASIC))
def test_bad_basic_credentials_are_401_invalid_auth(sunshine_app, user, make):
    reply = get_user(sunshine_app, user.id, {"Authorization": f"Basic {make(sunshine_app)}"})
    invalid_auth(reply, "Invalid key id or secret", "bad_credentials")


@pytest.mark.parametrize(
    "credentials",
    ["!!!not-base64!!!", "YWJj=ZGVm", base64.b64encode(b"\xff\xfe:\xff").decode(), ""],
    ids=["not base64", "padding inside", "not UTF-8", "nothing"],
)
def test_malformed_basic_credentials_are_401_invalid_auth(sunshine_app, user, credentials):
    reply = get_user(sunshine_app, user.id, {"Authorization": f"Basic {credentials}"})
    if credentials == "":  # "Basic" alone decodes to no key at all
        invalid_auth(reply, "Invalid key id or secret", "bad_credentials")
    else:
        invalid_auth(reply, "Invalid Basic authorization", "malformed_basic")


# --- Bearer JWT --------------------------------------------------------------------------------------


def test_an_hs256_jwt_of_the_app_key_and_of_the_account_key(sunshine_app, user):
    for token in (sunshine_app.jwt(), sunshine_app.jwt("account"), sunshine_app.jwt(iat=NOW, exp=NOW + 3600)):
        reply = get_user(sunshine_app, user.id, bearer(token))
        assert (reply.status, reply.json()["user"]["id"]) == (200, user.id)


def test_the_jwt_header_needs_no_typ(sunshine_app, user):
    token = hmac_jwt({"alg": "HS256", "kid": sunshine_app.key_id}, {"scope": "app"}, sunshine_app.secret)
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def hmac_jwt(header: dict, claims: Any, secret: str) -> str:
    """A JWT built by hand, so that its header can be anything (`alg` picks the HMAC digest)."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), _DIGESTS[header.get("alg", "HS256")]).digest()
    return f"{signing_input}.{b64url(signature)}"


def _signed(app: SunshineApp, claims: Any, algorithm: str = "HS256", **header: Any) -> str:
    return hmac_jwt({"alg": algorithm, "typ": "JWT", "kid": app.key_id, **header}, claims, app.secret)


def _tampered(app: SunshineApp) -> str:
    head, _, signature = app.jwt().split(".")
    return f"{head}.{b64url({'scope': 'app', 'admin': True})}.{signature}"


def _scope_swapped(app: SunshineApp) -> str:
    """The app key's JWT with its payload swapped for the account scope: the signature no longer fits."""
    head, _, signature = app.jwt().split(".")
    return f"{head}.{b64url({'scope': 'account'})}.{signature}"


def _stripped(app: SunshineApp) -> str:
    head, payload, _ = app.jwt().split(".")
    return f"{head}.{payload}."


def _unsigned(app: SunshineApp) -> str:
    return f"{b64url({'alg': 'none', 'typ': 'JWT', 'kid': app.key_id})}.{b64url({'scope': 'app'})}."


def _none_with_a_signature(app: SunshineApp) -> str:
    """`alg: none` in front of a genuine HS256 signature: the header decides, and `none` is refused."""
    _, payload, signature = app.jwt().split(".")
    return f"{b64url({'alg': 'none', 'kid': app.key_id})}.{payload}.{signature}"


JWT_REFUSALS: dict[str, tuple[Callable[[SunshineApp], str], str, str]] = {
    # header
    "no kid": (
        lambda a: hmac_jwt({"alg": "HS256", "typ": "JWT"}, {"scope": "app"}, a.secret),
        "Invalid JWT header. Missing key id (kid)",
        "missing_kid",
    ),
    "empty kid": (
        lambda a: _signed(a, {"scope": "app"}, kid=""),
        "Invalid JWT header. Missing key id (kid)",
        "missing_kid",
    ),
    "numeric kid": (
        lambda a: _signed(a, {"scope": "app"}, kid=123),
        "Invalid JWT",
        "malformed_jwt",
    ),  # PyJWT refuses to read it
    "unknown kid": (
        lambda a: _signed(a, {"scope": "app"}, kid=f"app_{secrets.token_hex(12)}"),
        "Invalid JWT header. Unknown key id (kid)",
        "unknown_kid",
    ),
    "alg none": (_unsigned, "Invalid JWT header. Unsupported algorithm", "unsupported_alg"),
    "alg none by PyJWT": (
        lambda a: pyjwt.encode({"scope": "app"}, None, algorithm="none", headers={"kid": a.key_id}),
        "Invalid JWT header. Unsupported algorithm",
        "unsupported_alg",
    ),
    "alg none, signature kept": (
        _none_with_a_signature,
        "Invalid JWT header. Unsupported algorithm",
        "unsupported_alg",
    ),
    "HS384": (
        lambda a: _signed(a, {"scope": "app"}, "HS384"),
        "Invalid JWT header. Unsupported algorithm",
        "unsupported_alg",
    ),
    "HS512": (
        lambda a: _signed(a, {"scope": "app"}, "HS512"),
        "Invalid JWT header. Unsupported algorithm",
        "unsupported_alg",
    ),
    # signature
    "wrong secret": (
        lambda a: sign_jwt({"scope": "app"}, a.key_id, a.secret + "x"),
        "Invalid JWT signature",
        "bad_signature",
    ),
    "account secret, app kid": (
        lambda a: sign_jwt({"scope": "app"}, a.key_id, a.account_secret),
        "Invalid JWT signature",
        "bad_signature",
    ),
    "tampered payload": (_tampered, "Invalid JWT signature", "bad_signature"),
    "payload swapped to account": (_scope_swapped, "Invalid JWT signature", "bad_signature"),
    "stripped signature": (_stripped, "Invalid JWT signature", "bad_signature"),
    # shape
    "two segments": (lambda a: ".".join(a.jwt().split(".")[:2]), "Invalid JWT", "malformed_jwt"),
    "not a JWT": (lambda a: "not-a-jwt", "Invalid JWT", "malformed_jwt"),
    "header not JSON": (lambda a: f"{b64url(b'{oops')}.{b64url({'scope': 'app'})}.sig", "Invalid JWT", "malformed_jwt"),
    "payload not JSON": (lambda a: _signed(a, b"hello"), "Invalid JWT", "malformed_jwt"),
    "payload a list": (lambda a: _signed(a, [{"scope": "app"}]), "Invalid JWT body", "malformed_jwt"),
    # claims
    "no scope": (lambda a: sign_jwt({}, a.key_id, a.secret), "Invalid JWT body. Missing scope", "bad_scope"),
    "null scope": (
        lambda a: sign_jwt({"scope": None}, a.key_id, a.secret),
        "Invalid JWT body. Missing scope",
        "bad_scope",
    ),
    "list scope": (
        lambda a: sign_jwt({"scope": ["app"]}, a.key_id, a.secret),
        "Invalid JWT body. Invalid scope",
        "bad_scope",
    ),
    "object scope": (
        lambda a: sign_jwt({"scope": {"app": True}}, a.key_id, a.secret),
        "Invalid JWT body. Invalid scope",
        "bad_scope",
    ),
    "numeric scope": (
        lambda a: sign_jwt({"scope": 1}, a.key_id, a.secret),
        "Invalid JWT body. Invalid scope",
        "bad_scope",
    ),
    "account scope, app key": (
        lambda a: sign_jwt({"scope": "account"}, a.key_id, a.secret),
        "Invalid JWT body. Cannot use account scope with app secret key",
        "scope_mismatch",
    ),
    "app scope, account key": (
        lambda a: sign_jwt({"scope": "app"}, a.account_key_id, a.account_secret),
        "Invalid JWT body. Cannot use app scope with account secret key",
        "scope_mismatch",
    ),
    "integration scope, app key": (
        lambda a: a.jwt("integration"),
        "Invalid JWT body. Cannot use integration scope with app secret key",
        "scope_mismatch",
    ),
    "unknown scope": (
        lambda a: a.jwt("admin"),
        "Invalid JWT body. Cannot use admin scope with app secret key",
        "scope_mismatch",
    ),
    "scope in another case": (
        lambda a: a.jwt("App"),
        "Invalid JWT body. Cannot use App scope with app secret key",
        "scope_mismatch",
    ),
    "exp a string": (lambda a: a.jwt(exp=str(NOW + 60)), "Invalid JWT body", "malformed"),
    "exp NaN": (lambda a: a.jwt(exp=float("nan")), "Invalid JWT", "malformed_jwt"),  # NaN and Infinity are not JSON
    "nbf Infinity": (lambda a: a.jwt(nbf=float("inf")), "Invalid JWT", "malformed_jwt"),
    "exp 1e999": (lambda a: _signed(a, b'{"scope": "app", "exp": 1e999}'), "Invalid JWT", "malformed_jwt"),
    "NaN elsewhere in the payload": (lambda a: a.jwt(sub=float("nan")), "Invalid JWT", "malformed_jwt"),
    "NaN in the header": (lambda a: _signed(a, {"scope": "app"}, x=float("nan")), "Invalid JWT", "malformed_jwt"),
    "exp in the past": (lambda a: a.jwt(iat=NOW - 120, exp=NOW - 60), "Invalid JWT. Token expired", "expired"),
    "exp right now": (lambda a: a.jwt(exp=NOW), "Invalid JWT. Token expired", "expired"),
    "nbf ahead": (lambda a: a.jwt(nbf=NOW + 1), "Invalid JWT. Token not yet valid", "not_yet_valid"),
}


@pytest.mark.parametrize("make, title, reason", JWT_REFUSALS.values(), ids=list(JWT_REFUSALS))
def test_a_bad_jwt_is_401_invalid_auth(sunshine_app, user, make, title, reason):
    invalid_auth(get_user(sunshine_app, user.id, bearer(make(sunshine_app))), title, reason)


def test_an_rs256_jwt_is_refused_for_its_algorithm(sunshine_app, user, rsa_key):
    token = pyjwt.encode({"scope": "app"}, rsa_key, algorithm="RS256", headers={"kid": sunshine_app.key_id})
    invalid_auth(
        get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT header. Unsupported algorithm", "unsupported_alg"
    )


def test_an_empty_bearer_is_a_malformed_jwt(sunshine_app, user):
    invalid_auth(get_user(sunshine_app, user.id, {"Authorization": "Bearer"}), "Invalid JWT", "malformed_jwt")
    invalid_auth(get_user(sunshine_app, user.id, {"Authorization": "Bearer   "}), "Invalid JWT", "malformed_jwt")


@pytest.mark.parametrize(
    "claims",
    [{"scope": "user", "external_id": "someone"}, {"scope": "appUser", "userId": "someone"}],
    ids=["user", "appUser"],
)
@pytest.mark.parametrize("account", [False, True], ids=["app key", "account key"])
def test_end_user_scopes_are_403_on_the_rest_api(sunshine_app, user, claims, account):
    key_id, secret = (
        (sunshine_app.account_key_id, sunshine_app.account_secret)
        if account
        else (sunshine_app.key_id, sunshine_app.secret)
    )
    refused(
        get_user(sunshine_app, user.id, bearer(sign_jwt(claims, key_id, secret))),
        403,
        FORBIDDEN,
        "user_scope_on_rest_api",
    )


def test_a_user_scope_jwt_creates_nothing(sunshine_app):
    token = sunshine_app.jwt("user", external_id="intruder")
    refused(
        sunshine_app.request("POST", "users", json={"externalId": "intruder"}, headers=bearer(token)),
        403,
        FORBIDDEN,
        "user_scope_on_rest_api",
    )
    assert sunshine_app.request("GET", "users/intruder").status == 404


# --- time claims on the emulator's clock -----------------------------------------------------------------


def test_a_jwt_works_until_its_exp_on_the_emulator_clock(sunshine_app, user, emulator_clock):
    token = sunshine_app.jwt(iat=NOW, exp=NOW + 60)
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    emulator_clock.advance("59s")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    emulator_clock.advance("1s")  # [I] no clock skew allowed: expired at exp itself
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token expired", "expired")


def test_the_expired_jwt_fixture(sunshine_app, user, expired_sunshine_jwt):
    invalid_auth(get_user(sunshine_app, user.id, bearer(expired_sunshine_jwt)), "Invalid JWT. Token expired", "expired")
    assert get_user(sunshine_app, user.id, sunshine_app.basic_headers()).status == 200  # the key itself still works


def test_an_expired_jwt_changes_nothing(sunshine_app, user, expired_sunshine_jwt):
    reply = sunshine_app.request(
        "PATCH", f"users/{user.id}", json={"profile": {"givenName": "Mallory"}}, headers=bearer(expired_sunshine_jwt)
    )
    invalid_auth(reply, "Invalid JWT. Token expired", "expired")
    reply = sunshine_app.request("DELETE", f"users/{user.id}", headers=bearer(expired_sunshine_jwt))
    invalid_auth(reply, "Invalid JWT. Token expired", "expired")
    assert get_user(sunshine_app, user.id, sunshine_app.basic_headers()).json()["user"]["profile"]["givenName"] is None
    assert sunshine_app.handle.control.journal(method="EVENT") == []


def test_a_jwt_is_refused_before_its_nbf(sunshine_app, user, emulator_clock):
    token = sunshine_app.jwt(nbf=NOW + 30)
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token not yet valid", "not_yet_valid")
    emulator_clock.advance("29s")
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token not yet valid", "not_yet_valid")
    emulator_clock.advance("1s")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200


def test_iat_is_not_checked(sunshine_app, user):
    """[I] `iat` is ignored, even in the future (reference, Open questions)."""
    assert get_user(sunshine_app, user.id, bearer(sunshine_app.jwt(iat=NOW + 86400))).status == 200


def test_moving_the_clock_back_revives_an_expired_jwt(sunshine_app, user, emulator_clock):
    token = sunshine_app.jwt(exp=NOW + 10)
    emulator_clock.advance("1m")
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token expired", "expired")
    emulator_clock.set_time(T0)
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200


# --- which app and which routes a key may reach -----------------------------------------------------------


def test_an_app_key_on_another_app_is_403(sunshine_app, other_app):
    created = other_app.request("POST", "users", json={"externalId": "theirs"})
    assert created.status == 201
    for headers in (sunshine_app.basic_headers(), bearer(sunshine_app.jwt())):
        refused(
            other_app.handle.get(other_app.path("users/theirs"), headers=headers), 403, FORBIDDEN, "key_of_another_app"
        )
        refused(other_app.handle.get(other_app.path(), headers=headers), 403, FORBIDDEN, "key_of_another_app")
        reply = other_app.handle.request("DELETE", other_app.path("users/theirs"), headers=headers)
        refused(reply, 403, FORBIDDEN, "key_of_another_app")
    assert other_app.request("GET", "users/theirs").json()["user"]["externalId"] == "theirs"


def test_an_app_key_on_an_app_that_does_not_exist_is_403_not_404(sunshine_app):
    """[I] the key's app is checked before the app's existence: nothing leaks about other apps."""
    path = f"/v2/apps/{secrets.token_hex(12)}"
    refused(sunshine_app.handle.get(path, headers=sunshine_app.basic_headers()), 403, FORBIDDEN, "key_of_another_app")
    reply = sunshine_app.handle.get(path, headers=sunshine_app.basic_headers(account=True))
    refused(reply, 404, error("app_not_found", "App not found"), "app_not_found")


def test_the_account_key_reaches_every_app_of_the_account(sunshine_app, other_app):
    for app in (sunshine_app, other_app):
        for headers in (sunshine_app.basic_headers(account=True), bearer(sunshine_app.jwt("account"))):
            reply = sunshine_app.handle.get(f"/v2/apps/{app.id}", headers=headers)
            assert (reply.status, reply.json()["app"]["id"]) == (200, app.id)


ACCOUNT_ONLY = [
    ("GET", "/v2/apps", None),
    ("POST", "/v2/apps", {"displayName": "Sneaky"}),
    ("DELETE", "/v2/apps/{app}", None),
    ("GET", "/v2/apps/{app}/keys", None),
    ("POST", "/v2/apps/{app}/keys", {"displayName": "Sneaky"}),
    ("GET", "/v2/apps/{app}/keys/{key}", None),
    ("DELETE", "/v2/apps/{app}/keys/{key}", None),
]


@pytest.mark.parametrize("method, path, body", ACCOUNT_ONLY, ids=[f"{m} {p}" for m, p, _ in ACCOUNT_ONLY])
@pytest.mark.parametrize("prefix", ["", "/sc"])
@pytest.mark.parametrize("jwt", [False, True], ids=["basic", "jwt"])
def test_account_only_routes_refuse_an_app_key(sunshine_app, method, path, body, prefix, jwt):
    headers = bearer(sunshine_app.jwt()) if jwt else sunshine_app.basic_headers()
    url = prefix + path.format(app=sunshine_app.id, key=sunshine_app.key_id)
    refused(sunshine_app.handle.request(method, url, json=body, headers=headers), 403, FORBIDDEN, "scope_not_allowed")


def test_refused_account_only_calls_change_nothing(sunshine_app):
    headers = sunshine_app.basic_headers()
    sunshine_app.handle.request("DELETE", sunshine_app.path(f"keys/{sunshine_app.key_id}"), headers=headers)
    sunshine_app.handle.request("DELETE", sunshine_app.path(), headers=headers)
    sunshine_app.handle.request("POST", "/v2/apps", json={"displayName": "Sneaky"}, headers=headers)
    account = sunshine_app.basic_headers(account=True)
    keys = sunshine_app.handle.get(sunshine_app.path("keys"), headers=account).json()["keys"]
    assert [key["id"] for key in keys] == [sunshine_app.key_id]
    apps = sunshine_app.handle.get("/v2/apps", headers=account).json()["apps"]
    assert [app["id"] for app in apps] == [sunshine_app.id]
    assert sunshine_app.request("GET", "").status == 200


def test_account_only_routes_accept_the_account_key(sunshine_app):
    for headers in (sunshine_app.basic_headers(account=True), bearer(sunshine_app.jwt("account"))):
        reply = sunshine_app.handle.get(sunshine_app.path(f"keys/{sunshine_app.key_id}"), headers=headers)
        assert (reply.status, reply.json()["key"]["id"]) == (200, sunshine_app.key_id)
        assert sunshine_app.handle.get("/v2/apps", headers=headers).status == 200


# (method, tail under /v2/apps/{id}, query, body, status): an integrator's day on one app, in order
APP_DAY: list[tuple[str, str, dict | None, dict | None, int]] = [
    ("GET", "", None, None, 200),
    ("PATCH", "", None, {"displayName": "Renamed"}, 200),
    ("POST", "users", None, {"externalId": "u-1", "profile": {"givenName": "Sue"}}, 201),
    ("GET", "users/u-1", None, None, 200),
    ("PATCH", "users/u-1", None, {"profile": {"surname": "Ng"}}, 200),
    ("GET", "users", {"filter[identities.email]": "sue@example.org"}, None, 200),
    ("GET", "users/u-1/clients", None, None, 200),
    ("GET", "users/u-1/devices", None, None, 200),
    ("POST", "conversations", None, {"type": "personal", "participants": [{"userExternalId": "u-1"}]}, 201),
    ("GET", "conversations", {"filter[userExternalId]": "u-1"}, None, 200),
    (
        "POST",
        "integrations",
        None,
        {"type": "custom", "webhooks": [{"target": "https://example.com/hook", "triggers": ["conversation:message"]}]},
        201,
    ),
    ("GET", "integrations", None, None, 200),
    ("DELETE", "users/u-1/personalinformation", None, None, 200),
    ("DELETE", "users/u-1", None, None, 200),
]


@pytest.mark.parametrize("prefix", ["/v2", "/sc/v2"])
@pytest.mark.parametrize("credentials", ["app basic", "app jwt", "account basic", "account jwt"])
def test_app_and_account_keys_work_on_every_app_route(sunshine_app, prefix, credentials):
    headers = {
        "app basic": sunshine_app.basic_headers(),
        "app jwt": bearer(sunshine_app.jwt()),
        "account basic": sunshine_app.basic_headers(account=True),
        "account jwt": bearer(sunshine_app.jwt("account")),
    }[credentials]
    seen = []
    for method, tail, query, body, _ in APP_DAY:
        path = f"{prefix}/apps/{sunshine_app.id}/{tail}".rstrip("/")
        reply = sunshine_app.handle.request(method, path, params=query, json=body, headers=headers)
        assert reply.headers["Content-Type"] == "application/json"
        seen.append((method, tail, reply.status))
    assert seen == [(method, tail, status) for method, tail, _, _, status in APP_DAY]


def test_the_sc_prefix_serves_the_same_data(sunshine_app, user):
    plain = sunshine_app.handle.get(
        sunshine_app.path(f"users/{user.external_id}"), headers=sunshine_app.basic_headers()
    )
    zendesk = sunshine_app.handle.get(
        f"/sc{sunshine_app.path(f'users/{user.external_id}')}", headers=sunshine_app.basic_headers()
    )
    assert (zendesk.status, zendesk.json()) == (plain.status, plain.json()) == (200, plain.json())
    reply = sunshine_app.handle.get(
        f"/sc/v2/apps/{sunshine_app.id}/users/{user.id}", headers={"Authorization": "Basic !!!"}
    )
    invalid_auth(reply, "Invalid Basic authorization", "malformed_basic")


# --- the control API's token lifecycle ----------------------------------------------------------------------


def test_a_jwt_the_emulator_has_not_seen_cannot_be_expired(sunshine_app):
    with pytest.raises(EmulatorError) as caught:
        sunshine_app.handle.control.expire(token=sunshine_app.jwt(jti="never-used"))
    assert (caught.value.status, caught.value.code) == (404, "unknown_token")


def test_expire_a_jwt_after_its_first_use(sunshine_app, user):
    control = sunshine_app.handle.control
    token = sunshine_app.jwt(jti="first")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    assert control.expire(token=token) == {"namespace": sunshine_app.handle.namespace, "target": "token"}
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token expired", "expired")
    assert (
        get_user(sunshine_app, user.id, bearer(sunshine_app.jwt(jti="second"))).status == 200
    )  # other JWTs of the key
    assert get_user(sunshine_app, user.id, sunshine_app.basic_headers()).status == 200


def test_expire_a_jwt_at_a_later_time(sunshine_app, user, emulator_clock):
    token = sunshine_app.jwt(jti="later")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    sunshine_app.handle.control.expire(token=token, at="2026-03-01T00:10:00Z")
    emulator_clock.advance("599s")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    emulator_clock.advance("1s")
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token expired", "expired")


def test_revoke_a_jwt(sunshine_app, user, emulator_clock):
    token = sunshine_app.jwt(jti="revoked")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    sunshine_app.handle.control.revoke(token=token)
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token revoked", "revoked")
    emulator_clock.set_time("2026-02-01T00:00:00Z")  # no clock move brings it back
    invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT. Token revoked", "revoked")


def test_a_revoked_jwt_changes_nothing(sunshine_app, user):
    token = sunshine_app.jwt(jti="revoked-writer")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    sunshine_app.handle.control.revoke(token=token)
    control = sunshine_app.handle.control
    control.clear_journal()
    refusals = [
        sunshine_app.request("POST", "users", json={"externalId": "ghost"}, headers=bearer(token)),
        sunshine_app.request("PATCH", f"users/{user.id}", json={"metadata": {"plan": "gold"}}, headers=bearer(token)),
        sunshine_app.request("DELETE", f"users/{user.id}", headers=bearer(token)),
    ]
    for reply in refusals:
        invalid_auth(reply, "Invalid JWT. Token revoked", "revoked")
    assert sunshine_app.request("GET", "users/ghost").status == 404
    assert get_user(sunshine_app, user.id, sunshine_app.basic_headers()).json()["user"]["metadata"] == {}
    assert control.journal(method="EVENT") == []


def test_the_next_validations_of_a_jwt_fail(sunshine_app, user):
    token = sunshine_app.jwt(jti="flaky")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    sunshine_app.handle.control.fail_validations(token, times=2)
    for _ in range(2):
        invalid_auth(get_user(sunshine_app, user.id, bearer(token)), "Invalid JWT", "injected_failure")
    assert get_user(sunshine_app, user.id, bearer(token)).status == 200


def test_revoke_every_jwt_of_a_key_used_so_far(sunshine_app, user):
    used = sunshine_app.jwt(jti="used-before")
    account = sunshine_app.jwt("account", jti="account-before")
    for token in (used, account):
        assert get_user(sunshine_app, user.id, bearer(token)).status == 200
    answer = sunshine_app.handle.control.revoke(key=sunshine_app.key_id)
    assert answer == {"namespace": sunshine_app.handle.namespace, "target": [f"sunshine:key:{sunshine_app.key_id}"]}
    invalid_auth(get_user(sunshine_app, user.id, bearer(used)), "Invalid JWT. Token revoked", "revoked")
    assert get_user(sunshine_app, user.id, bearer(account)).status == 200  # another key
    assert get_user(sunshine_app, user.id, bearer(sunshine_app.jwt(jti="first-used-after"))).status == 200
    assert get_user(sunshine_app, user.id, sunshine_app.basic_headers()).status == 200  # [I] Basic is no token


def test_expire_every_jwt_of_an_app(sunshine_app, user, other_app):
    mine, theirs = sunshine_app.jwt(jti="mine"), other_app.jwt(jti="theirs")
    account = sunshine_app.jwt("account", jti="account-of-the-app")
    assert get_user(sunshine_app, user.id, bearer(mine)).status == 200
    assert get_user(sunshine_app, user.id, bearer(account)).status == 200
    assert other_app.handle.get(other_app.path(), headers=bearer(theirs)).status == 200
    answer = sunshine_app.handle.control.expire(app=sunshine_app.id)
    assert answer == {"namespace": sunshine_app.handle.namespace, "target": [f"sunshine:app:{sunshine_app.id}"]}
    invalid_auth(get_user(sunshine_app, user.id, bearer(mine)), "Invalid JWT. Token expired", "expired")
    assert other_app.handle.get(other_app.path(), headers=bearer(theirs)).status == 200
    # [I] an account key's JWT belongs to no app: an app selector does not reach it
    assert get_user(sunshine_app, user.id, bearer(account)).status == 200


def test_a_selector_for_an_unknown_app_is_404(sunshine_app):
    with pytest.raises(EmulatorError) as caught:
        sunshine_app.handle.control.revoke(app=secrets.token_hex(12))
    assert (caught.value.status, caught.value.code) == (404, "unknown_tenant")
