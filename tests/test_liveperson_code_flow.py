"""LivePerson authenticated consumers, code flow (reference 5.4, 5.5): the IDP exchanges a code at the brand's
token endpoint, in-process for a seeded brand or over HTTP; and the emulator's brand endpoints themselves."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import jwt
import pytest
import requests

from emulator.client import EmulatorError
from emulator.pytest_plugin.liveperson_consumers import BRAND_CLIENT_ID, add_lp_connector, seed_brand

T0 = "2026-03-01T12:00:00Z"
NOW = 1_772_366_400
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH_FAILED = "Failed to validate user with customer authentication service"
frozen = pytest.mark.emulator_time(T0)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_auth_service_failed(reply, reason: str) -> None:
    """[C] reference 5.4: the code-flow failure envelope, internalCode 10."""
    assert reply.status == 401, reply.text
    error = reply.json()["error"]
    assert set(error) == {"time", "message", "internalCode", "responseStatus"}
    assert (error["message"], error["internalCode"], error["responseStatus"]) == (AUTH_FAILED, 10, "UNAUTHORIZED")
    assert reply.headers["X-Emulator-Reason"].startswith(reason), reply.headers["X-Emulator-Reason"]


def authorize(handle, brand_id: str, **form):
    return handle.post(f"/brand/{brand_id}/authorize", data=urlencode(form), headers=FORM)


def token_call(handle, brand_id: str, form: dict | None = None, headers: dict | None = None, json_body=None):
    if json_body is not None:
        return handle.post(
            f"/brand/{brand_id}/token", data=json_body, headers={"Content-Type": "application/json", **(headers or {})}
        )
    return handle.post(f"/brand/{brand_id}/token", data=urlencode(form or {}), headers={**FORM, **(headers or {})})


def assert_brand_error(reply, status: int, error: str, reason: str | None = None) -> None:
    assert (reply.status, reply.json()) == (status, {"error": error}), reply.text
    if reason:
        assert reply.headers["X-Emulator-Reason"] == reason


# --- in-process code flow (a connector that names a seeded brand) ---------------------------------------


@frozen
def test_code_flow_with_a_seeded_brand(lp_brand_idp):
    code = lp_brand_idp.code(
        "coder", given_name="Cody", lp_sdes=[{"type": "personal", "personal": {"firstname": "Cody"}}]
    )
    claims = claims_of(lp_brand_idp.authenticate(code=code))
    assert (
        claims["lp.ext"]["sub"] == "coder"
        and claims["lp.ext"]["iss"] == lp_brand_idp.issuer
        and len(claims["lp.ext"]["lp_sdes"]) == 64
    )
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 3600)


def test_code_and_id_token_give_the_same_consumer(lp_brand_idp):
    by_code = claims_of(lp_brand_idp.authenticate(code=lp_brand_idp.code("same")))["sub"]
    by_jwt = claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("same")))["sub"]
    assert by_code == by_jwt


def test_a_code_is_single_use(lp_brand_idp):
    code = lp_brand_idp.code("once")
    assert lp_brand_idp.authenticate_reply(code=code).status == 200
    assert_auth_service_failed(lp_brand_idp.authenticate_reply(code=code), "brand_invalid_code: unknown_code")


def test_a_code_lives_sixty_seconds(lp_brand_idp, emulator_clock):
    emulator_clock.freeze()
    young, old = lp_brand_idp.code("young"), lp_brand_idp.code("old")
    emulator_clock.advance(59)
    assert lp_brand_idp.authenticate_reply(code=young).status == 200
    emulator_clock.advance(1)
    assert_auth_service_failed(lp_brand_idp.authenticate_reply(code=old), "brand_invalid_code: code_expired")


def test_redirect_uri_must_match_the_authorize_call(lp_brand_idp):
    code = lp_brand_idp.code("r", redirect_uri="https://app.example/cb")
    assert_auth_service_failed(lp_brand_idp.authenticate_reply(code=code), "brand_invalid_code: redirect_uri_mismatch")
    code = lp_brand_idp.code("r", redirect_uri="https://app.example/cb")
    assert lp_brand_idp.authenticate_reply(code=code, redirect_uri="https://app.example/cb").status == 200


def test_unknown_code_changes_nothing(lp_account, lp_brand_idp):
    handle = lp_account.handle
    before = handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]["accounts"]
    assert_auth_service_failed(lp_brand_idp.authenticate_reply(code="made-up"), "brand_invalid_code")
    assert (
        handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]["accounts"] == before
    )


def test_brand_connector_with_a_wrong_client_secret(lp_account, lp_brand_idp):
    connector_id = add_lp_connector(
        lp_account, type="authenticated", brand=lp_brand_idp.brand_id, client_id=BRAND_CLIENT_ID, client_secret="wrong"
    )
    reply = lp_brand_idp.authenticate_reply(code=lp_brand_idp.code("c"), connector_id=connector_id)
    assert_auth_service_failed(reply, "brand_unauthorized_client")


def test_brand_without_clients_cannot_do_the_code_flow(lp_account):
    brand = seed_brand(lp_account.handle.control, users=[{"sub": "u"}])
    connector_id = add_lp_connector(lp_account, type="authenticated", brand=brand.id)
    reply = lp_account.handle.post(
        lp_account.idp_path(f"app/{connector_id}/authenticate"), params={"v": "3.0"}, json={"code": "c"}
    )
    assert_auth_service_failed(reply, "brand_unauthorized_client")


def test_code_on_a_connector_without_code_flow(lp_account, lp_brand_idp):
    connector_id = add_lp_connector(
        lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwt_public_key=lp_brand_idp.public_key_base64()
    )
    assert_auth_service_failed(
        lp_brand_idp.authenticate_reply(code="c", connector_id=connector_id), "code_flow_not_configured"
    )


def test_token_endpoint_that_is_unreachable(lp_account, lp_brand_idp):
    connector_id = add_lp_connector(
        lp_account,
        type="authenticated",
        issuer=lp_brand_idp.issuer,
        jwt_public_key=lp_brand_idp.public_key_base64(),
        token_endpoint="http://127.0.0.1:9/token",
        client_id="lp",
        client_secret="s",
    )
    assert_auth_service_failed(
        lp_brand_idp.authenticate_reply(code="c", connector_id=connector_id), "token_endpoint_unreachable"
    )


# --- code flow over HTTP (token_endpoint = the emulator's own brand endpoint) ------------------------------


class TestOverHttp:
    @pytest.fixture
    def emulator_backend(self, emulator_server):
        return emulator_server

    def http_connector(self, lp_account, lp_brand_idp, secret: str | None = None, **key_source) -> str:
        base_url = lp_account.handle.base_url
        return add_lp_connector(
            lp_account,
            type="authenticated",
            issuer=lp_brand_idp.issuer,
            token_endpoint=lp_brand_idp.token_url(base_url),
            client_id=BRAND_CLIENT_ID,
            client_secret=secret or lp_brand_idp.client_secret,
            **(key_source or {"jwks_url": lp_brand_idp.jwks_url(base_url)}),
        )

    def test_code_flow_over_http_with_a_jwks_url(self, lp_account, lp_brand_idp):
        connector_id = self.http_connector(lp_account, lp_brand_idp)
        token = lp_brand_idp.authenticate(
            code=lp_brand_idp.code("http-user", email="h@example.com"), connector_id=connector_id
        )
        assert claims_of(token)["lp.ext"] == {"sub": "http-user", "iss": lp_brand_idp.issuer}
        control = lp_account.handle.control
        exchange = control.assert_called(times=1, method="POST", path=f"/brand/{lp_brand_idp.brand_id}/token")[0]
        assert exchange["status"] == 200

    def test_code_flow_over_http_with_a_public_key(self, lp_account, lp_brand_idp):
        connector_id = self.http_connector(lp_account, lp_brand_idp, jwt_public_key=lp_brand_idp.public_key_base64())
        assert lp_brand_idp.authenticate(code=lp_brand_idp.code("pk"), connector_id=connector_id)

    def test_brand_400_is_the_auth_service_failure(self, lp_account, lp_brand_idp):
        connector_id = self.http_connector(lp_account, lp_brand_idp, secret="wrong")
        reply = lp_brand_idp.authenticate_reply(code=lp_brand_idp.code("x"), connector_id=connector_id)
        assert_auth_service_failed(reply, "token_endpoint_400: unauthorized_client")
        connector_id = self.http_connector(lp_account, lp_brand_idp)
        assert_auth_service_failed(
            lp_brand_idp.authenticate_reply(code="made-up", connector_id=connector_id),
            "token_endpoint_400: invalid_code",
        )

    def test_id_token_from_the_brand_is_verified(self, lp_account, lp_brand_idp):
        """The brand's id_token is checked like an implicit-flow JWT: another issuer on the connector refuses it."""
        base_url = lp_account.handle.base_url
        connector_id = add_lp_connector(
            lp_account,
            type="authenticated",
            issuer="https://someone.else",
            jwks_url=lp_brand_idp.jwks_url(base_url),
            token_endpoint=lp_brand_idp.token_url(base_url),
            client_id=BRAND_CLIENT_ID,
            client_secret=lp_brand_idp.client_secret,
        )
        reply = lp_brand_idp.authenticate_reply(code=lp_brand_idp.code("x"), connector_id=connector_id)
        assert (reply.status, reply.json(), reply.headers["X-Emulator-Reason"][:12]) == (
            401,
            {"internalErrorCode": "9007"},
            "wrong_issuer",
        )

    def test_brand_routes_find_their_namespace_without_the_header(self, lp_account, lp_brand_idp):
        reply = requests.get(lp_brand_idp.jwks_url(lp_account.handle.base_url), timeout=10)
        assert reply.status_code == 200 and reply.json()["keys"][0]["kid"] == lp_brand_idp.kid


# --- the brand's own endpoints ---------------------------------------------------------------------------


@frozen
def test_token_endpoint_answers_tokens_and_a_verifiable_id_token(lp_account, lp_brand_idp):
    handle = lp_account.handle
    code = lp_brand_idp.code("ada", given_name="Ada")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://liveperson.net"}
    reply = token_call(handle, lp_brand_idp.brand_id, form, basic(BRAND_CLIENT_ID, lp_brand_idp.client_secret))
    assert reply.status == 200, reply.text
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "id_token", "expires_in"}
    assert (body["token_type"], body["expires_in"], len(body["access_token"])) == ("Bearer", 3600, 64)
    jwks = handle.get(f"/brand/{lp_brand_idp.brand_id}/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks)[lp_brand_idp.kid].key
    claims = jwt.decode(
        body["id_token"], key, algorithms=["RS256"], audience=BRAND_CLIENT_ID, options={"verify_exp": False}
    )
    assert claims == {
        "given_name": "Ada",
        "iss": lp_brand_idp.issuer,
        "sub": "ada",
        "aud": BRAND_CLIENT_ID,
        "iat": NOW,
        "exp": NOW + 3600,
    }


def test_jwks_shape(lp_account, lp_brand_idp):
    jwks = lp_account.handle.get(f"/brand/{lp_brand_idp.brand_id}/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert {k: key[k] for k in ("kty", "kid", "use", "alg", "e")} == {
        "kty": "RSA",
        "kid": lp_brand_idp.kid,
        "use": "sig",
        "alg": "RS256",
        "e": "AQAB",
    }


def test_token_endpoint_takes_a_json_body(lp_account, lp_brand_idp):
    body = json.dumps({"grant_type": "authorization_code", "code": lp_brand_idp.code("j")})
    reply = token_call(
        lp_account.handle,
        lp_brand_idp.brand_id,
        headers=basic(BRAND_CLIENT_ID, lp_brand_idp.client_secret),
        json_body=body,
    )
    assert reply.status == 200


def test_token_endpoint_errors(lp_account, lp_brand_idp):
    handle, brand_id = lp_account.handle, lp_brand_idp.brand_id
    good = basic(BRAND_CLIENT_ID, lp_brand_idp.client_secret)
    code = lp_brand_idp.code("e")
    form = {"grant_type": "authorization_code", "code": code}
    assert_brand_error(token_call(handle, brand_id, form), 400, "unauthorized_client", "missing_client_authentication")
    assert_brand_error(token_call(handle, brand_id, form, {"Authorization": "Basic !!"}), 400, "unauthorized_client")
    assert_brand_error(
        token_call(handle, brand_id, form, basic(BRAND_CLIENT_ID, "wrong")),
        400,
        "unauthorized_client",
        "wrong_client_secret",
    )
    assert_brand_error(
        token_call(handle, brand_id, form, basic("nobody", "x")), 400, "unauthorized_client", "unknown_client"
    )
    assert_brand_error(
        token_call(handle, brand_id, {**form, "grant_type": "password"}, good), 400, "unsupported_grant_type"
    )
    assert_brand_error(
        token_call(handle, brand_id, {"grant_type": "authorization_code"}, good), 400, "invalid_code", "unknown_code"
    )
    assert_brand_error(token_call(handle, brand_id, headers=good, json_body="{not json"), 400, "json_parse_error")
    assert_brand_error(token_call(handle, brand_id, headers=good, json_body="[1]"), 400, "json_parse_error")
    assert token_call(handle, brand_id, form, good).status == 200  # none of the refusals used the code up
    assert_brand_error(token_call(handle, brand_id, form, good), 400, "invalid_code", "unknown_code")


def test_a_code_of_another_client_is_invalid(lp_account, lp_brand_idp):
    handle = lp_account.handle
    brand = seed_brand(
        handle.control,
        clients=[{"client_id": "a", "client_secret": "sa"}, {"client_id": "b", "client_secret": "sb"}],
        users=[{"sub": "u"}],
    )
    code = authorize(handle, brand.id, sub="u", client_id="a").json()["code"]
    reply = token_call(handle, brand.id, {"grant_type": "authorization_code", "code": code}, basic("b", "sb"))
    assert_brand_error(reply, 400, "invalid_code", "code_of_another_client")


def test_authorize_answers_a_code(lp_account):
    handle = lp_account.handle
    brand = seed_brand(
        handle.control,
        clients=[{"client_id": "c", "client_secret": "s", "redirect_uris": ["https://app/cb"]}],
        users=[{"sub": "u", "password": "pw", "claims": {"email": "u@example.com"}}],
    )
    reply = authorize(handle, brand.id, sub="u", password="pw", client_id="c", redirect_uri="https://app/cb")
    assert (
        reply.status == 200
        and set(reply.json()) == {"code", "redirect_uri"}
        and reply.json()["redirect_uri"] == "https://app/cb"
    )
    json_reply = handle.post(
        f"/brand/{brand.id}/authorize",
        json={"sub": "u", "password": "pw", "client_id": "c", "redirect_uri": "https://app/cb"},
    )
    assert json_reply.status == 200 and json_reply.json()["code"] != reply.json()["code"]


def test_authorize_errors(lp_account):
    handle = lp_account.handle
    brand = seed_brand(
        handle.control,
        clients=[{"client_id": "c", "client_secret": "s", "redirect_uris": ["https://app/cb"]}],
        users=[{"sub": "u", "password": "pw"}],
    )
    cases = [
        ({"client_id": "c"}, "invalid_request", "missing_field: sub and client_id are required"),
        (
            {"sub": "u", "password": "pw", "client_id": "x", "redirect_uri": "https://app/cb"},
            "unauthorized_client",
            "unknown_client",
        ),
        ({"sub": "u", "password": "pw", "client_id": "c"}, "invalid_request", "redirect_uri_not_allowed"),
        (
            {"sub": "u", "password": "bad", "client_id": "c", "redirect_uri": "https://app/cb"},
            "access_denied",
            "wrong_password",
        ),
        ({"sub": "u", "client_id": "c", "redirect_uri": "https://app/cb"}, "access_denied", "wrong_password"),
        ({"sub": "v", "client_id": "c", "redirect_uri": "https://app/cb"}, "access_denied", "unknown_user"),
    ]
    for form, error, reason in cases:
        assert_brand_error(authorize(handle, brand.id, **form), 400, error, reason)
    assert (
        handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]["brands"][brand.id][
            "codes"
        ]
        == {}
    )


def test_unknown_brand_and_wrong_method(lp_account):
    handle = lp_account.handle
    assert_brand_error(handle.get("/brand/nobody/.well-known/jwks.json"), 404, "not_found", "unknown_brand")
    reply = handle.get("/brand/nobody/token")
    assert reply.status == 405 and reply.json()["error"]["responseStatus"] == "METHOD_NOT_ALLOWED"
    assert handle.get("/brand/nobody/elsewhere").json()["error"]["responseStatus"] == "NOT_FOUND"


def test_seed_refuses_bad_brands(emulator):
    for brand in (
        {"id": "bad id"},
        {"id": "b", "private_key_pem": "nope"},
        {"id": "b", "users": [{"sub": "u", "claims": {"iss": "x"}}]},
        {"id": "b", "clients": [{"client_id": "c", "client_secret": "s"}, {"client_id": "c", "client_secret": "t"}]},
    ):
        with pytest.raises(EmulatorError) as refused:
            emulator.control.seed({"liveperson": {"brands": [brand]}})
        assert refused.value.code == "invalid_seed"


def _brand_codes(lp_account, brand_id: str) -> list[str]:
    handle = lp_account.handle
    return list(
        handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]["brands"][brand_id][
            "codes"
        ]
    )


def test_a_refused_exchange_leaves_the_brands_code_unspent(lp_account, lp_brand_idp):
    wrong_issuer = add_lp_connector(
        lp_account, type="authenticated", brand=lp_brand_idp.brand_id, issuer="https://other.example"
    )
    code = lp_brand_idp.code("kept")
    reply = lp_brand_idp.authenticate_reply(code=code, connector_id=wrong_issuer)
    assert (reply.status, reply.json()) == (401, {"internalErrorCode": "9007"})
    assert _brand_codes(lp_account, lp_brand_idp.brand_id) == [code]
    assert lp_brand_idp.authenticate_reply(code=code).status == 200  # still good where it verifies


def test_an_expired_code_refused_at_the_token_endpoint_is_not_removed_by_the_refusal(
    lp_account, lp_brand_idp, emulator_clock
):
    emulator_clock.freeze()
    code = lp_brand_idp.code("late")
    emulator_clock.advance(61)
    reply = token_call(
        lp_account.handle,
        lp_brand_idp.brand_id,
        {"grant_type": "authorization_code", "code": code},
        basic(BRAND_CLIENT_ID, lp_brand_idp.client_secret),
    )
    assert_brand_error(reply, 400, "invalid_code")
    assert _brand_codes(lp_account, lp_brand_idp.brand_id) == [code]
