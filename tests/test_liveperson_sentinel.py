"""Sentinel's AppJWT and the IDP's ConsumerJWS (reference sections 4.1, 5.3, 6.1 and 9)."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.providers.liveperson.identity import APP_JWT_SLOT
from emulator.providers.liveperson.sentinel import verify_app_jwt, verify_consumer_jws
from emulator.pytest_plugin import issue_lp_app_jwt, lp_app_installation
from emulator.web import UNHANDLED_HEADER

T0 = "2026-03-01T12:00:00Z"
NOW = 1_772_366_400  # T0 in epoch seconds
KID = "appjwt-13-05-17"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TOKEN_QUERY = {"v": "1.0", "grant_type": "client_credentials"}
APP = {"client_id": "app-install-1", "client_secret": "s3cret-of-the-app"}


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def token_path(account) -> str:
    return f"/sentinel/api/account/{account.id}/app/token"


def app_token(account, form=None, params=TOKEN_QUERY, **kwargs):
    data = urlencode(form) if form is not None else None
    return account.handle.post(
        token_path(account), params=params, data=data, headers=FORM if form is not None else None, **kwargs
    )


def consumer(account, app_jwt, body=None, params=None, headers=None):
    sent = {} if app_jwt is None else {"Authorization": app_jwt}
    return account.handle.post(
        account.idp_path("consumer"),
        params={"v": "1.0"} if params is None else params,
        json={"ext_consumer_id": "John_Doe_facebook12345"} if body is None else body,
        headers={**sent, **(headers or {})},
    )


def assert_lp_error(reply, status, reason=None, message=None):
    assert reply.status == status, reply.text
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"time", "message", "internalCode", "responseStatus"}, body
    assert body["error"]["internalCode"] == (10 if status == 401 else status)
    if reason is not None:
        assert reply.headers["X-Emulator-Reason"] == reason
    if message is not None:
        assert body["error"]["message"] == message


with_app = pytest.mark.lp_account(apps=[APP])


# --- AppJWT ---------------------------------------------------------------------------------------


@with_app
@pytest.mark.emulator_time(T0)
@pytest.mark.parametrize("where", ["form", "query"])
def test_app_jwt_from_form_or_query_credentials(lp_account, where):
    if where == "form":
        reply = app_token(lp_account, APP)
    else:
        reply = lp_account.handle.post(token_path(lp_account), params={**TOKEN_QUERY, **APP})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    token = body["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    claims = claims_of(token)
    assert claims == {
        "aud": lp_account.id,
        "azp": APP["client_id"],
        "scope": "msg.consumer",
        "iss": "Sentinel",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": claims["jti"],
    }
    assert reply.headers["Content-Type"].startswith("application/json")


@with_app
def test_app_jwt_verifies_with_the_fixed_public_key(lp_account):
    token = app_token(lp_account, APP).json()["access_token"]
    public_key = APP_JWT_SLOT.fixed_key().public_key
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience=lp_account.id,
        issuer="Sentinel",
        options={"verify_exp": False},
    )
    assert claims["azp"] == APP["client_id"]


@with_app
def test_each_app_jwt_is_a_new_token(lp_account, emulator_clock):
    emulator_clock.freeze()
    assert app_token(lp_account, APP).json()["access_token"] != app_token(lp_account, APP).json()["access_token"]


@with_app
def test_grant_type_in_the_form_body_is_accepted(lp_account):
    reply = app_token(lp_account, {**APP, "grant_type": "client_credentials"}, params={"v": "1.0"})
    assert reply.status == 200


@with_app
def test_the_form_body_wins_over_the_query(lp_account):
    reply = app_token(lp_account, APP, params={**TOKEN_QUERY, "client_id": "other", "client_secret": "other"})
    assert reply.status == 200


@pytest.mark.lp_account(apps=[APP], settings={"app_jwt_ttl": "2m"})
@pytest.mark.emulator_time(T0)
def test_lifetime_is_an_account_setting(lp_account):
    body = app_token(lp_account, APP).json()
    assert body["expires_in"] == 120 and claims_of(body["access_token"])["exp"] == NOW + 120


@with_app
@pytest.mark.emulator_time(T0)
def test_lifetime_changes_at_run_time(lp_account, emulator_clock):
    before = app_token(lp_account, APP).json()["access_token"]
    emulator_clock.set_ttl(account=lp_account.id, app_jwt_ttl="30s")
    body = app_token(lp_account, APP).json()
    assert body["expires_in"] == 30 and claims_of(body["access_token"])["exp"] == NOW + 30
    assert claims_of(before)["exp"] == NOW + 3600  # tokens already issued keep theirs


@with_app
@pytest.mark.parametrize(
    "form, status, reason",
    [
        ({"client_id": "nobody", "client_secret": APP["client_secret"]}, 401, "unknown_client"),
        ({"client_id": APP["client_id"], "client_secret": "wrong"}, 401, "wrong_client_secret"),
        ({"client_id": APP["client_id"], "client_secret": APP["client_secret"].upper()}, 401, "wrong_client_secret"),
        ({"client_id": APP["client_id"]}, 401, "missing_client_credentials"),
        ({"client_secret": APP["client_secret"]}, 401, "missing_client_credentials"),
        ({}, 401, "missing_client_credentials"),
        ({"client_id": "", "client_secret": ""}, 401, "missing_client_credentials"),
    ],
)
def test_bad_client_credentials_are_refused(lp_account, form, status, reason):
    assert_lp_error(app_token(lp_account, form), status, reason)


@with_app
def test_credentials_in_a_json_body_are_not_read(lp_account):
    reply = lp_account.handle.post(token_path(lp_account), params=TOKEN_QUERY, json=APP)
    assert_lp_error(reply, 401, "missing_client_credentials")


@with_app
@pytest.mark.parametrize(
    "params, reason",
    [
        ({"v": "1.0"}, "missing_grant_type"),
        ({"v": "1.0", "grant_type": ""}, "missing_grant_type"),
        ({"v": "1.0", "grant_type": "password"}, "unsupported_grant_type"),
        ({"v": "1.0", "grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_version"),
        ({"v": "2.0", "grant_type": "client_credentials"}, "unsupported_version"),
        ({"v": "1", "grant_type": "client_credentials"}, "unsupported_version"),
    ],
)
def test_bad_version_or_grant_type_is_400(lp_account, params, reason):
    assert_lp_error(app_token(lp_account, APP, params=params), 400, reason)


def test_unknown_account_is_401_invalid_site(emulator):
    reply = emulator.post("/sentinel/api/account/1/app/token", params={**TOKEN_QUERY, **APP})
    assert_lp_error(reply, 401, "unknown_account", "invalid site")


def test_an_account_without_apps_issues_nothing(lp_account):
    assert_lp_error(app_token(lp_account, APP), 401, "unknown_client")


@with_app
def test_get_is_not_allowed(lp_account):
    reply = lp_account.handle.get(token_path(lp_account), params={**TOKEN_QUERY, **APP})
    assert_lp_error(reply, 405)


@with_app
def test_apps_of_another_account_do_not_count(emulator, lp_account):
    emulator.control.seed(
        {"liveperson": {"accounts": [{"id": "83000001", "apps": [{"client_id": "other-app", "client_secret": "x"}]}]}}
    )
    assert_lp_error(app_token(lp_account, {"client_id": "other-app", "client_secret": "x"}), 401, "unknown_client")


# --- fixtures ---------------------------------------------------------------------------------------


def test_lp_app_jwt_fixture_adds_an_app_installation(lp_app_jwt, lp_account):
    claims = claims_of(lp_app_jwt.token)
    assert (claims["aud"], claims["azp"]) == (lp_account.id, lp_app_jwt.client_id)
    assert lp_app_jwt.headers() == {"Authorization": lp_app_jwt.token}
    again = app_token(lp_account, {"client_id": lp_app_jwt.client_id, "client_secret": lp_app_jwt.client_secret})
    assert again.status == 200
    assert lp_app_installation(lp_account) == (lp_app_jwt.client_id, lp_app_jwt.client_secret)  # not added twice


@with_app
def test_lp_app_jwt_fixture_uses_the_markers_app(lp_app_jwt):
    assert (lp_app_jwt.client_id, lp_app_jwt.client_secret) == (APP["client_id"], APP["client_secret"])


def test_adding_the_app_keeps_the_accounts_consumers(lp_account, emulator):
    sub = claims_of(lp_account.issue_ext_jwt())["sub"]
    issue_lp_app_jwt(lp_account, *lp_app_installation(lp_account))
    accounts = emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["accounts"]
    assert sub in accounts[lp_account.id]["consumers"]


def test_lp_consumer_jws_fixture(lp_consumer_jws, lp_account):
    claims = claims_of(lp_consumer_jws.token)
    assert claims["account_id"] == lp_account.id
    assert (claims["ext_consumer_id"], claims["lp_consumer_id"]) == (
        lp_consumer_jws.ext_consumer_id,
        lp_consumer_jws.lp_consumer_id,
    )
    assert lp_consumer_jws.headers() == {
        "Authorization": lp_consumer_jws.app_jwt.token,
        "X-LP-ON-BEHALF": lp_consumer_jws.token,
    }


# --- ConsumerJWS ------------------------------------------------------------------------------------


@pytest.mark.emulator_time(T0)
@pytest.mark.parametrize("params", [{"v": "1.0"}, {}])
def test_consumer_jws_is_201_with_and_without_version(lp_app_jwt, lp_account, params):
    reply = consumer(lp_account, lp_app_jwt.token, params=params)
    assert reply.status == 201, reply.text
    assert set(reply.json()) == {"token"}
    token = reply.json()["token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    claims = claims_of(token)
    assert claims == {
        "account_id": lp_account.id,
        "ext_consumer_id": "John_Doe_facebook12345",
        "lp_consumer_id": claims["lp_consumer_id"],
        "iat": NOW,
        "exp": NOW + 24 * 3600,
        "jti": claims["jti"],
    }
    assert re.fullmatch(r"[0-9a-f]{64}", claims["lp_consumer_id"])


def test_lp_consumer_id_is_stable_per_ext_consumer_id_and_account(lp_app_jwt, lp_account, emulator):
    ids = [
        claims_of(consumer(lp_account, lp_app_jwt.token, {"ext_consumer_id": ext}).json()["token"])["lp_consumer_id"]
        for ext in ("1234567890", "1234567890", "other")
    ]
    assert ids[0] == ids[1] != ids[2]
    emulator.control.seed({"liveperson": {"accounts": [{"id": "84000001", "apps": [APP]}]}})
    foreign_account = type(lp_account)("84000001", "1", 600.0, emulator)
    foreign_app_jwt = app_token(foreign_account, APP).json()["access_token"]
    foreign = consumer(foreign_account, foreign_app_jwt, {"ext_consumer_id": "1234567890"}).json()["token"]
    assert claims_of(foreign)["lp_consumer_id"] != ids[0]


def test_bearer_prefix_is_tolerated(lp_app_jwt, lp_account):
    assert consumer(lp_account, f"Bearer {lp_app_jwt.token}").status == 201


@pytest.mark.lp_account(settings={"consumer_jws_ttl": "10m"})
@pytest.mark.emulator_time(T0)
def test_consumer_jws_lifetime_is_an_account_setting(lp_app_jwt, lp_account):
    claims = claims_of(consumer(lp_account, lp_app_jwt.token).json()["token"])
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize(
    "app_jwt, reason",
    [
        (None, "missing_app_jwt"),
        ("", "missing_app_jwt"),
        ("Bearer ", "missing_app_jwt"),
        ("garbage", "malformed"),
        ("a.b.c", "malformed"),
    ],
)
def test_consumer_jws_needs_an_app_jwt(lp_account, app_jwt, reason):
    reply = consumer(lp_account, None, headers=None if app_jwt is None else {"Authorization": app_jwt})
    assert_lp_error(reply, 401, reason)


def test_expired_app_jwt_is_refused_after_moving_the_clock(lp_app_jwt, lp_account, emulator_clock):
    emulator_clock.advance("59m")
    assert consumer(lp_account, lp_app_jwt.token).status == 201
    emulator_clock.advance("1m")
    assert_lp_error(
        consumer(lp_account, lp_app_jwt.token), 401, "expired", "Invalid AppJWT: AppJWT has expired or is invalid"
    )


def test_the_app_jwt_is_checked_before_the_body(lp_account):
    reply = lp_account.handle.post(
        lp_account.idp_path("consumer"),
        data=b"{nope",
        headers={"Content-Type": "application/json", "Authorization": "x.y.z"},
    )
    assert_lp_error(reply, 401, "malformed")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ext_consumer_id": ""},
        {"ext_consumer_id": "  "},
        {"ext_consumer_id": 1234567890},
        {"ext_consumer_id": None},
        {"ext_consumer_id": ["x"]},
        {"ext_consumer_id": "x" * 513},
    ],
)
def test_a_bad_ext_consumer_id_is_400(lp_app_jwt, lp_account, body):
    assert_lp_error(consumer(lp_account, lp_app_jwt.token, body), 400)


@pytest.mark.parametrize("raw", [b"{nope", b"[1]", b'"x"'])
def test_a_body_that_is_not_a_json_object_is_400(lp_app_jwt, lp_account, raw):
    reply = lp_account.handle.post(
        lp_account.idp_path("consumer"), data=raw, headers={"Content-Type": "application/json", **lp_app_jwt.headers()}
    )
    assert_lp_error(reply, 400)


def test_other_versions_are_400(lp_app_jwt, lp_account):
    assert_lp_error(consumer(lp_account, lp_app_jwt.token, params={"v": "2.0"}), 400, "unsupported_version")


def test_an_app_jwt_of_another_account_is_refused(lp_app_jwt, emulator):
    emulator.control.seed(
        {
            "liveperson": {
                "accounts": [
                    {
                        "id": "85000001",
                        "apps": [{"client_id": lp_app_jwt.client_id, "client_secret": lp_app_jwt.client_secret}],
                    }
                ]
            }
        }
    )
    reply = emulator.post("/api/account/85000001/consumer", json={"ext_consumer_id": "x"}, headers=lp_app_jwt.headers())
    assert_lp_error(reply, 401, "wrong_audience")


def test_an_app_jwt_of_an_uninstalled_app_is_refused(lp_app_jwt, lp_account, emulator):
    accounts = emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["accounts"]
    emulator.control.seed({"liveperson": {"accounts": [{**accounts[lp_account.id], "apps": []}]}})
    assert_lp_error(consumer(lp_account, lp_app_jwt.token), 401, "unknown_app")


@pytest.mark.parametrize("token_of", ["lp_jwt", "lp_ext_jwt", "consumer_jws"])
def test_other_tokens_are_not_app_jwts(request, lp_app_jwt, lp_account, token_of):
    token = lp_app_jwt.issue_consumer_jws().token if token_of == "consumer_jws" else request.getfixturevalue(token_of)
    reply = consumer(lp_account, token)
    assert_lp_error(reply, 401, "missing_claim" if token_of == "consumer_jws" else "unknown_key")


def test_a_forged_app_jwt_is_refused(lp_app_jwt, lp_account):
    claims = claims_of(lp_app_jwt.token)
    forged = jwt.encode(
        claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256", headers={"kid": KID}
    )
    assert_lp_error(consumer(lp_account, forged), 401, "bad_signature")


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"iss": "sentinel"}, None),
        ({"iss": "Other"}, "wrong_issuer"),
        ({"iss": ["Sentinel"]}, "wrong_issuer"),
        ({"scope": "msg.other"}, "wrong_scope"),
        ({"scope": "openid msg.consumer"}, None),
        ({"azp": 12}, "unknown_app"),
        ({"aud": "1"}, "wrong_audience"),
    ],
)
def test_app_jwt_claims_are_checked(lp_app_jwt, lp_account, change, reason):
    payload = json.dumps({**claims_of(lp_app_jwt.token), **change}).encode()  # by hand: PyJWT refuses a non-string iss
    token = jwt.PyJWS().encode(payload, APP_JWT_SLOT.fixed_key().private_key, algorithm="RS256", headers={"kid": KID})
    reply = consumer(lp_account, token)
    if reason is None:
        assert reply.status == 201
    else:
        assert_lp_error(reply, 401, reason)


# --- verification helpers -------------------------------------------------------------------------


def _namespace_and_account(emulator, account_id):
    from emulator.web import runtime

    app = emulator.transport.app if hasattr(emulator.transport, "app") else None
    if app is None:
        pytest.skip("needs the in-process emulator")
    namespace = runtime(app).store.view(emulator.namespace)
    return namespace, namespace.state("liveperson").accounts[account_id]


def test_verification_helpers(emulator, lp_consumer_jws, lp_account, emulator_clock):
    namespace, account = _namespace_and_account(emulator, lp_account.id)
    app_claims = verify_app_jwt(namespace, account, lp_consumer_jws.app_jwt.token)
    assert app_claims["azp"] == lp_consumer_jws.app_jwt.client_id
    jws_claims = verify_consumer_jws(namespace, account, lp_consumer_jws.token)
    assert jws_claims["lp_consumer_id"] == lp_consumer_jws.lp_consumer_id
    from emulator.core.keys import TokenError

    with pytest.raises(TokenError) as refused:
        verify_consumer_jws(namespace, account, lp_consumer_jws.app_jwt.token)
    assert refused.value.reason == "missing_claim"
    with pytest.raises(TokenError) as refused:
        verify_app_jwt(namespace, account, lp_consumer_jws.token)
    assert refused.value.reason == "missing_claim"
    emulator_clock.advance("24h")
    with pytest.raises(TokenError) as refused:
        verify_consumer_jws(namespace, account, lp_consumer_jws.token)
    assert refused.value.reason == "expired"


# --- token lifecycle --------------------------------------------------------------------------------


def test_expire_by_token_reaches_the_app_jwt(lp_app_jwt, lp_account):
    lp_account.handle.control.expire(lp_app_jwt.token)
    assert_lp_error(consumer(lp_account, lp_app_jwt.token), 401, "expired")
    fresh = issue_lp_app_jwt(lp_account, lp_app_jwt.client_id, lp_app_jwt.client_secret)
    assert consumer(lp_account, fresh.token).status == 201


def test_revoke_by_app_installation(lp_app_jwt, lp_account):
    answer = lp_account.handle.control.revoke(account=lp_account.id, client_id=lp_app_jwt.client_id)
    assert answer["target"] == [f"liveperson:app:{lp_account.id}:{lp_app_jwt.client_id}"]
    assert_lp_error(consumer(lp_account, lp_app_jwt.token), 401, "revoked")
    fresh = issue_lp_app_jwt(lp_account, lp_app_jwt.client_id, lp_app_jwt.client_secret)
    assert consumer(lp_account, fresh.token).status == 201  # issued after the cut


def test_expire_by_account_reaches_app_jwts(lp_app_jwt, lp_account):
    lp_account.handle.control.expire(account=lp_account.id)
    assert_lp_error(consumer(lp_account, lp_app_jwt.token), 401, "expired")


def test_fail_validations_of_an_app_jwt(lp_app_jwt, lp_account):
    lp_account.handle.control.fail_validations(lp_app_jwt.token, times=1)
    assert_lp_error(consumer(lp_account, lp_app_jwt.token), 401, "injected_failure")
    assert consumer(lp_account, lp_app_jwt.token).status == 201


def test_consumer_jws_lifecycle_by_consumer(emulator, lp_consumer_jws, lp_account):
    namespace, account = _namespace_and_account(emulator, lp_account.id)
    lp_account.handle.control.revoke(consumer=lp_consumer_jws.lp_consumer_id)
    from emulator.core.keys import TokenError

    with pytest.raises(TokenError) as refused:
        verify_consumer_jws(namespace, account, lp_consumer_jws.token)
    assert refused.value.reason == "revoked"
    verify_app_jwt(namespace, account, lp_consumer_jws.app_jwt.token)  # the app's token is untouched


def test_a_client_id_selector_needs_the_account(lp_app_jwt, lp_account):
    from emulator.client import EmulatorError

    with pytest.raises(EmulatorError) as refused:
        lp_account.handle.control.revoke(client_id=lp_app_jwt.client_id)
    assert refused.value.code == "invalid_selector"


def test_rotation_gives_the_app_jwt_slot_a_new_kid(lp_app_jwt, lp_account):
    rotated = lp_account.handle.control.rotate_keys(account=lp_account.id)
    assert {r["slot"]: r["kid"] for r in rotated}["liveperson.appjwt"] == f"{KID}-2"
    fresh = issue_lp_app_jwt(lp_account, lp_app_jwt.client_id, lp_app_jwt.client_secret)
    assert jwt.get_unverified_header(fresh.token)["kid"] == f"{KID}-2"
    assert consumer(lp_account, lp_app_jwt.token).status == 201  # old keys keep verifying by default


# --- malformed requests ---------------------------------------------------------------------------

texts = st.text(max_size=20)
values = st.one_of(
    st.none(), texts, st.sampled_from(["client_credentials", "1.0", APP["client_id"], APP["client_secret"]])
)
content_types = st.sampled_from(
    [
        None,
        "",
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
    ]
)
raw_bodies = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"", b"client_id=%ZZ&client_secret", b"a=b&&&=", b"{", b"--x\r\n", b"\xff\xfe"]),
)


def world(emulator):
    return emulator.control.export_state(), emulator.control.in_namespace("*").export_state()


def sane(reply):
    assert UNHANDLED_HEADER not in reply.headers, reply.text
    assert reply.status < 500, reply.text
    body = json.loads(reply.body)
    if reply.status >= 400:
        assert set(body) == {"error"} and set(body["error"]) == {"time", "message", "internalCode", "responseStatus"}, (
            body
        )
    return body


@with_app
@settings(max_examples=60)
@given(
    query=st.dictionaries(
        st.sampled_from(["v", "grant_type", "client_id", "client_secret", "x"]),
        values.filter(lambda v: v is not None),
        max_size=5,
    ),
    body=raw_bodies,
    content_type=content_types,
)
def test_malformed_token_requests_are_refused_cleanly(emulator, lp_account, query, body, content_type):
    before = world(emulator)
    reply = emulator.post(
        token_path(lp_account),
        params=query,
        data=body,
        headers={} if content_type is None else {"Content-Type": content_type},
    )
    sane(reply)
    if reply.status >= 400:
        assert world(emulator) == before
    else:
        assert reply.status == 200 and claims_of(reply.json()["access_token"])["azp"] == APP["client_id"]


@with_app
@settings(max_examples=60)
@given(
    authorization=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
        st.sampled_from(["<app>", "Bearer <app>", "<app>x", "<jws>"]),
    ),
    body=st.one_of(
        raw_bodies,
        st.dictionaries(texts, values, max_size=3).map(lambda d: json.dumps(d).encode()),
        st.one_of(texts, st.integers(), st.none()).map(lambda v: json.dumps({"ext_consumer_id": v}).encode()),
    ),
    version=st.one_of(st.none(), st.sampled_from(["1.0", "2.0", ""])),
)
def test_malformed_consumer_requests_are_refused_cleanly(emulator, lp_account, authorization, body, version):
    app_jwt = app_token(lp_account, APP).json()["access_token"]
    if authorization is not None:
        authorization = authorization.replace("<app>", app_jwt).replace(
            "<jws>", consumer(lp_account, app_jwt).json()["token"]
        )
    headers = {
        "Content-Type": "application/json",
        **({} if authorization is None else {"Authorization": authorization}),
    }
    before = world(emulator)
    reply = emulator.post(
        lp_account.idp_path("consumer"), params=None if version is None else {"v": version}, data=body, headers=headers
    )
    sane(reply)
    if reply.status >= 400:
        assert world(emulator) == before
    else:
        assert reply.status == 201
        assert (
            claims_of(reply.json()["token"])["lp_consumer_id"]
            == hashlib.sha256(
                f"liveperson-consumer:{lp_account.id}:{json.loads(body)['ext_consumer_id']}".encode()
            ).hexdigest()
        )
