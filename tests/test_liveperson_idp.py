"""LivePerson IDP for unauthenticated consumers (reference sections 5.1 to 5.6)."""

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.providers.liveperson.identity import CONSUMER_JWT_SLOT

IDP_ISSUER = "https://idp.liveperson.net"
INVALID_JWT = {"internalErrorCode": "9007"}


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def authorize(account, body=None, **kwargs):
    return account.handle.post(account.idp_path("anonymous/authorize"), json=body, **kwargs)


def authenticate(account, ext, connector_id=None, version="3.0"):
    path = account.idp_path(f"app/{connector_id or account.unauth_connector_id}/authenticate")
    params = {"v": version} if version else {}
    return account.handle.post(path, params=params, json={"id_token": ext})


def assert_refused_as_invalid_jwt(reply, reason=None):
    assert (reply.status, reply.json()) == (401, INVALID_JWT)
    if reason:
        assert reply.headers["X-Emulator-Reason"].startswith(reason)


def assert_lp_error(reply, status, response_status):
    assert reply.status == status
    error = reply.json()["error"]
    assert (
        set(error) == {"time", "message", "internalCode", "responseStatus"}
        and error["responseStatus"] == response_status
    )


# --- anonymous/authorize -------------------------------------------------------------------------


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_create_issues_a_ten_minute_external_jwt(lp_account):
    reply = authorize(lp_account)
    assert reply.status == 200 and set(reply.json()) == {"token"}
    token = reply.json()["token"]
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header["alg"] == "RS256" and header["kid"]
    now = 1_772_366_400
    assert claims == {
        "iss": IDP_ISSUER,
        "aud": f"acc:{lp_account.id}",
        "sub": claims["sub"],
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "jti": claims["jti"],
    }
    assert claims["jti"] != claims_of(lp_account.issue_ext_jwt())["jti"]


def test_each_create_is_a_new_consumer(lp_account):
    assert claims_of(lp_account.issue_ext_jwt())["sub"] != claims_of(lp_account.issue_ext_jwt())["sub"]


def test_refresh_keeps_the_consumer_even_after_expiry(lp_account, emulator_clock):
    ext = lp_account.issue_ext_jwt()
    emulator_clock.advance("11m")
    reply = authorize(lp_account, {"id_token": ext})
    assert reply.status == 200
    fresh = reply.json()["token"]
    assert claims_of(fresh)["sub"] == claims_of(ext)["sub"]
    assert claims_of(fresh)["exp"] - claims_of(fresh)["iat"] == 600


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_refresh_window_is_730_hours_from_the_first_token(lp_account, emulator_clock):
    ext = lp_account.issue_ext_jwt()
    emulator_clock.advance("729h")
    ext = authorize(lp_account, {"id_token": ext}).json()["token"]  # a refresh does not restart the window
    emulator_clock.advance("59m")
    assert authorize(lp_account, {"id_token": ext}).status == 200
    emulator_clock.advance("1m")
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": ext}), "refresh_window_ended")


@pytest.mark.lp_account(settings={"ext_jwt_ttl": "2m", "ext_jwt_refresh_window": "1h"})
@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_lifetimes_are_settable_per_account(lp_account, emulator_clock):
    ext = lp_account.issue_ext_jwt()
    assert claims_of(ext)["exp"] - claims_of(ext)["iat"] == 120
    emulator_clock.advance("2m")
    assert_refused_as_invalid_jwt(authenticate(lp_account, ext), "expired")
    emulator_clock.advance("58m")
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": ext}), "refresh_window_ended")


def test_null_id_token_asks_for_a_new_token(lp_account):
    assert authorize(lp_account, {"id_token": None}).status == 200


@pytest.mark.parametrize("bad", ["", "garbage", "a.b.c", 12, ["x"], {"t": 1}])
def test_refresh_with_garbage_is_refused(lp_account, bad):
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": bad}))


def test_refresh_with_a_token_of_another_account_is_refused(emulator, lp_account):
    emulator.control.seed(
        {"liveperson": {"accounts": [{"id": "81000001", "connectors": [{"id": "1", "type": "unauthenticated"}]}]}}
    )
    foreign = emulator.post("/api/account/81000001/anonymous/authorize").json()["token"]
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": foreign}), "wrong_audience")
    assert_refused_as_invalid_jwt(authenticate(lp_account, foreign), "wrong_audience")


def test_refresh_with_a_tampered_token_is_refused(lp_account):
    header, payload, signature = lp_account.issue_ext_jwt().split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": tampered}), "bad_signature")


def test_refresh_with_a_token_signed_by_another_key_is_refused(lp_account):
    claims = claims_of(lp_account.issue_ext_jwt())
    kid = jwt.get_unverified_header(lp_account.issue_ext_jwt())["kid"]
    forged = jwt.encode(
        claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256", headers={"kid": kid}
    )
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": forged}), "bad_signature")


def test_an_lp_consumer_jwt_is_not_an_external_jwt(lp_account, lp_jwt):
    assert_refused_as_invalid_jwt(authorize(lp_account, {"id_token": lp_jwt}), "unknown_key")
    assert_refused_as_invalid_jwt(authenticate(lp_account, lp_jwt), "unknown_key")


@pytest.mark.lp_account(features=[])
def test_account_without_unauth_messaging_is_refused(lp_account):
    assert_lp_error(authorize(lp_account), 403, "FORBIDDEN")
    assert_lp_error(lp_account.handle.post(lp_account.idp_path("signup")), 403, "FORBIDDEN")


def test_unknown_account_is_401(emulator):
    assert_lp_error(emulator.post("/api/account/1/anonymous/authorize"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("body", [b"{nope", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(lp_account, body):
    reply = lp_account.handle.post(
        lp_account.idp_path("anonymous/authorize"), data=body, headers={"Content-Type": "application/json"}
    )
    assert_lp_error(reply, 400, "BAD_REQUEST")


def test_get_is_not_allowed(lp_account):
    assert_lp_error(lp_account.handle.get(lp_account.idp_path("anonymous/authorize")), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.lp_account(settings={"idp_error_status": 500})
def test_the_invalid_jwt_status_can_be_the_500_the_real_idp_has_given(lp_account):
    reply = authorize(lp_account, {"id_token": "garbage"})
    assert (reply.status, reply.json()) == (500, INVALID_JWT)
    assert "X-Emulator-Unhandled" not in reply.headers


# --- app/{connectorId}/authenticate?v=3.0 --------------------------------------------------------


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_exchange_returns_the_lp_consumer_jwt(lp_account):
    ext = lp_account.issue_ext_jwt()
    reply = authenticate(lp_account, ext)
    assert reply.status == 200 and set(reply.json()) == {"token"}
    token = reply.json()["token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "00001", "typ": "JWT"}
    now = 1_772_366_400
    assert claims_of(token) == {
        "sub": claims_of(ext)["sub"],
        "aud": f"acc:{lp_account.id}",
        "iss": IDP_ISSUER,
        "exp": now + 3600,
        "iat": now,
    }


def test_lp_consumer_jwt_verifies_with_the_fixed_public_key(lp_jwt, lp_account):
    public_key = CONSUMER_JWT_SLOT.fixed_key().public_key
    claims = jwt.decode(
        lp_jwt,
        public_key,
        algorithms=["RS256"],
        audience=f"acc:{lp_account.id}",
        issuer=IDP_ISSUER,
        options={"verify_exp": False},
    )
    assert claims["sub"]


def test_sub_is_stable_across_refreshes(lp_account, emulator_clock):
    ext = lp_account.issue_ext_jwt()
    first = claims_of(lp_account.exchange(ext))["sub"]
    emulator_clock.advance("11m")
    refreshed = authorize(lp_account, {"id_token": ext}).json()["token"]
    assert claims_of(lp_account.exchange(refreshed))["sub"] == first


def test_expired_external_jwt_is_refused(lp_account, expired_ext_jwt):
    assert_refused_as_invalid_jwt(authenticate(lp_account, expired_ext_jwt), "expired")


def test_unknown_connector_is_404(lp_account, lp_ext_jwt):
    assert_lp_error(authenticate(lp_account, lp_ext_jwt, connector_id="999"), 404, "NOT_FOUND")
    assert_lp_error(authenticate(lp_account, lp_ext_jwt, connector_id="default"), 404, "NOT_FOUND")


def test_authenticated_connector_does_not_take_an_unauth_token(emulator, lp_account, lp_ext_jwt):
    emulator.control.seed(
        {
            "liveperson": {
                "accounts": [
                    {
                        "id": lp_account.id,
                        "connectors": [
                            {"id": lp_account.unauth_connector_id, "type": "unauthenticated"},
                            {
                                "id": "1357",
                                "type": "authenticated",
                                "issuer": "https://brand.example",
                                "jwt_public_key": "MIIB",
                            },
                        ],
                    }
                ]
            }
        }
    )
    assert_refused_as_invalid_jwt(authenticate(lp_account, lp_ext_jwt, connector_id="1357"))


@pytest.mark.parametrize("version", [None, "2.0", "3"])
def test_only_version_3_0_is_served(lp_account, lp_ext_jwt, version):
    assert_lp_error(authenticate(lp_account, lp_ext_jwt, version=version), 400, "BAD_REQUEST")


def test_missing_id_token_is_400(lp_account):
    reply = lp_account.handle.post(
        lp_account.idp_path(f"app/{lp_account.unauth_connector_id}/authenticate"), params={"v": "3.0"}, json={}
    )
    assert_lp_error(reply, 400, "BAD_REQUEST")


@pytest.mark.lp_account(features=["Common.Async_Messaging"])
def test_exchange_needs_unauth_messaging(lp_account, emulator):
    # the account cannot issue an external token itself: present one of another account
    emulator.control.seed(
        {"liveperson": {"accounts": [{"id": "82000001", "connectors": [{"id": "1", "type": "unauthenticated"}]}]}}
    )
    foreign = emulator.post("/api/account/82000001/anonymous/authorize").json()["token"]
    assert_lp_error(authenticate(lp_account, foreign), 403, "FORBIDDEN")


# --- legacy signup -----------------------------------------------------------------------------------


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_signup_returns_a_long_lived_unauthenticated_lp_jwt(lp_account):
    reply = lp_account.handle.post(lp_account.idp_path("signup"))
    assert reply.status == 200 and set(reply.json()) == {"jwt"}
    token = reply.json()["jwt"]
    claims = claims_of(token)
    assert jwt.get_unverified_header(token)["kid"] == "00001"
    assert claims["aud"] == f"acc:{lp_account.id}" and claims["iss"] == IDP_ISSUER
    assert claims["exp"] - claims["iat"] == 410_240_040  # the published example's lifetime, about 13 years


def test_successful_calls_record_consumers_in_state(emulator, lp_account):
    sub = claims_of(lp_account.issue_ext_jwt())["sub"]
    account = emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["accounts"][
        lp_account.id
    ]
    assert account["consumers"][sub]["kind"] == "anonymous"


def test_a_body_nested_deeper_than_the_stack_is_400(lp_account):
    reply = lp_account.handle.post(
        lp_account.idp_path("anonymous/authorize"), data=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert_lp_error(reply, 400, "BAD_REQUEST")
