"""LivePerson authenticated consumers, implicit flow: brand JWTs verified against a connector's brand, public
key, inline JWKS or JWKS URL; the security matrix; legacy `authenticate`; step-up (reference 5.2-5.6, 7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.client import EmulatorError
from emulator.providers.liveperson import notifications
from emulator.providers.liveperson.conversations import Conversations
from emulator.providers.liveperson.identity import CONSUMER_JWT_SLOT
from emulator.providers.liveperson.models import ASYNC_MESSAGING, UNAUTH_MESSAGING, brand_signing_key
from emulator.pytest_plugin.liveperson_consumers import add_lp_connector, seed_brand
from emulator.web import runtime

T0 = "2026-03-01T12:00:00Z"
NOW = 1_772_366_400  # T0 in epoch seconds
IDP_ISSUER = "https://idp.liveperson.net"
INVALID_JWT = {"internalErrorCode": "9007"}
SDES = [{"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}}]
frozen = pytest.mark.emulator_time(T0)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_invalid_jwt(reply, reason: str, body: dict = INVALID_JWT) -> None:
    assert (reply.status, reply.json()) == (401, body), reply.text
    assert reply.headers["X-Emulator-Reason"].startswith(reason), reply.headers["X-Emulator-Reason"]


def lp_state(account) -> dict:
    handle = account.handle
    return handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]


def consumers_of(account) -> dict:
    return lp_state(account)["accounts"][account.id]["consumers"]


def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- the implicit flow ---------------------------------------------------------------------------------


@frozen
def test_brand_jwt_gives_an_authenticated_lp_jwt(lp_account, lp_brand_idp):
    token = lp_brand_idp.authenticate(
        id_token=lp_brand_idp.id_token("+972-3-5555-555", given_name="Eitan", lp_sdes=SDES)
    )
    header, claims = jwt.get_unverified_header(token), claims_of(token)
    assert header == {"kid": "00001", "typ": "JWT", "alg": "RS256"}
    expected_sub = hashlib.sha256(
        f"liveperson-authenticated:{lp_account.id}:{lp_brand_idp.issuer}:+972-3-5555-555".encode()
    ).hexdigest()
    sdes_hex = hashlib.sha256(json.dumps(SDES, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert claims == {
        "sub": expected_sub,
        "aud": f"acc:{lp_account.id}",
        "iss": IDP_ISSUER,
        "iat": NOW,
        "exp": NOW + 3600,
        "lp.ext": {"sub": "+972-3-5555-555", "iss": lp_brand_idp.issuer, "lp_sdes": sdes_hex},
    }
    public = CONSUMER_JWT_SLOT.fixed_key().public_key
    assert jwt.decode(
        token, public, algorithms=["RS256"], audience=f"acc:{lp_account.id}", options={"verify_exp": False}
    )


def test_lp_ext_has_no_lp_sdes_without_them(lp_brand_idp):
    assert claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("u-1")))["lp.ext"] == {
        "sub": "u-1",
        "iss": lp_brand_idp.issuer,
    }


@pytest.mark.lp_account(settings={"consumer_jwt_ttl": "15m"})
def test_lp_jwt_lives_consumer_jwt_ttl(lp_brand_idp):
    claims = claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("u-1")))
    assert claims["exp"] - claims["iat"] == 900


def test_the_same_sub_is_the_same_consumer_and_another_sub_another(lp_brand_idp):
    first = claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("alice")))["sub"]
    again = claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("alice")))["sub"]
    other = claims_of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("bob")))["sub"]
    assert first == again != other and all(len(s) == 64 and int(s, 16) >= 0 for s in (first, other))


def test_consumer_remembers_ext_and_standard_claims(lp_account, lp_brand_idp):
    claims = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.com",
        "gender": "FEMALE",
        "preferred_username": "ada",
        "phone_number": "+44 20",
        "nickname": "not shown",
        "lp_sdes": SDES,
    }
    token = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("ada", **claims))
    consumer = consumers_of(lp_account)[claims_of(token)["sub"]]
    assert consumer["kind"] == "authenticated"
    assert consumer["ext"] == claims_of(token)["lp.ext"]
    assert consumer["profile"] == {name: value for name, value in claims.items() if name != "nickname"}
    # a later login's claims replace the profile
    lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("ada", given_name=42, family_name="Byron"))
    assert consumers_of(lp_account)[claims_of(token)["sub"]]["profile"] == {"family_name": "Byron"}


def test_authenticated_fixture(lp_authenticated_consumer, lp_account):
    consumer = consumers_of(lp_account)[lp_authenticated_consumer.consumer_id]
    assert (consumer["kind"], consumer["ext"]["sub"]) == ("authenticated", lp_authenticated_consumer.sub)
    assert consumer["profile"]["given_name"] == lp_authenticated_consumer.claims["given_name"]
    assert claims_of(lp_authenticated_consumer.lp_jwt)["sub"] == lp_authenticated_consumer.consumer_id


@pytest.mark.lp_account(features=[ASYNC_MESSAGING])
def test_authenticated_connector_needs_no_unauth_messaging(lp_brand_idp):
    assert lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("u-1"))


def test_unauth_connector_is_unchanged(lp_account, lp_brand_idp):
    """An unauthenticated connector still takes only the IDP's external JWT."""
    path = lp_account.idp_path(f"app/{lp_account.unauth_connector_id}/authenticate")
    reply = lp_account.handle.post(path, params={"v": "3.0"}, json={"id_token": lp_brand_idp.id_token("u-1")})
    assert_invalid_jwt(reply, "unknown_key")


def test_external_unauth_jwt_is_refused_by_an_authenticated_connector(lp_brand_idp, lp_ext_jwt):
    assert_invalid_jwt(lp_brand_idp.authenticate_reply(id_token=lp_ext_jwt), "unknown_key")


def test_unknown_connector_and_missing_token(lp_account, lp_brand_idp):
    reply = lp_brand_idp.authenticate_reply(id_token="x", connector_id="999")
    assert reply.status == 404 and reply.json()["error"]["responseStatus"] == "NOT_FOUND"
    path = lp_account.idp_path(f"app/{lp_brand_idp.connector_id}/authenticate")
    for body, reason in (
        ({}, "missing_id_token"),
        ({"code": 7}, "bad_code"),
        ({"code": "c", "redirect_uri": 1}, "bad_redirect_uri"),
    ):
        reply = lp_account.handle.post(path, params={"v": "3.0"}, json=body)
        assert (reply.status, reply.headers["X-Emulator-Reason"]) == (400, reason)
        assert reply.json()["error"]["internalCode"] == 400


@pytest.mark.lp_account(settings={"idp_error_status": 500})
def test_refusal_status_is_the_accounts_idp_error_status(lp_brand_idp):
    reply = lp_brand_idp.authenticate_reply(id_token="not-a-jwt")
    assert (reply.status, reply.json()) == (500, INVALID_JWT)


def test_connector_naming_an_unseeded_brand_refuses(lp_account):
    connector_id = add_lp_connector(lp_account, type="authenticated", brand="nobody-here")
    path = lp_account.idp_path(f"app/{connector_id}/authenticate")
    assert_invalid_jwt(lp_account.handle.post(path, params={"v": "3.0"}, json={"id_token": "a.b.c"}), "unknown_brand")


# --- key sources -------------------------------------------------------------------------------------


def test_public_key_connector_verifies_whatever_the_kid(lp_account, lp_brand_idp):
    connector_id = add_lp_connector(
        lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwt_public_key=lp_brand_idp.public_key_base64()
    )
    token = lp_brand_idp.id_token("pk-user", headers={"kid": "anything"})
    assert claims_of(lp_brand_idp.authenticate(id_token=token, connector_id=connector_id))["lp.ext"]["sub"] == "pk-user"
    pem = (
        brand_signing_key(lp_brand_idp.brand.private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    pem_connector = add_lp_connector(lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwt_public_key=pem)
    assert lp_brand_idp.authenticate(id_token=token, connector_id=pem_connector)


@pytest.mark.parametrize("key", ["MIIB", "bm90IGEga2V5"])
def test_unreadable_public_key_refuses(lp_account, lp_brand_idp, key):
    connector_id = add_lp_connector(lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwt_public_key=key)
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("u"), connector_id=connector_id),
        "bad_connector_key",
    )


def test_inline_jwks_selects_the_key_by_kid(lp_account, lp_brand_idp):
    jwks = lp_account.handle.get(f"/brand/{lp_brand_idp.brand_id}/.well-known/jwks.json").json()
    other = jwt.algorithms.RSAAlgorithm.to_jwk(other_key().public_key(), as_dict=True)
    connector_id = add_lp_connector(
        lp_account,
        type="authenticated",
        issuer=lp_brand_idp.issuer,
        jwks={"keys": [{**other, "kid": "other"}, *jwks["keys"]]},
    )
    assert lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("jwks-user"), connector_id=connector_id)
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(
            id_token=lp_brand_idp.id_token("u", headers={"kid": "other"}), connector_id=connector_id
        ),
        "bad_signature",
    )
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(
            id_token=lp_brand_idp.id_token("u", headers={"kid": "nope"}), connector_id=connector_id
        ),
        "unknown_key",
    )


def test_jwks_url_that_cannot_be_fetched_refuses(lp_account, lp_brand_idp):
    connector_id = add_lp_connector(
        lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwks_url="http://127.0.0.1:9/jwks.json"
    )
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("u"), connector_id=connector_id),
        "jwks_unavailable",
    )


class TestJwksUrl:
    """The connector fetches the brand's JWKS from the emulator's own brand endpoint, over HTTP."""

    @pytest.fixture
    def emulator_backend(self, emulator_server):
        return emulator_server

    def jwks_fetches(self, lp_account, lp_brand_idp) -> int:
        return len(
            lp_account.handle.control.calls(path=f"/brand/{lp_brand_idp.brand_id}/.well-known/jwks.json", status=200)
        )

    @frozen
    def test_jwks_is_cached_for_ten_minutes_and_refetched_for_a_new_kid(self, lp_account, lp_brand_idp, emulator_clock):
        url = lp_brand_idp.jwks_url(lp_account.handle.base_url)
        connector_id = add_lp_connector(lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwks_url=url)

        def login(sub: str, **kwargs) -> object:
            return lp_brand_idp.authenticate_reply(
                id_token=lp_brand_idp.id_token(sub, **kwargs), connector_id=connector_id
            )

        assert login("a").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 1
        assert login("b").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 1
        emulator_clock.advance(599)
        assert login("c").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 1
        emulator_clock.advance("1s")
        assert login("d").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 2
        # the brand rotates its key: a token with the new kid makes one refetch
        rotated = seed_brand(
            lp_account.handle.control,
            id=lp_brand_idp.brand_id,
            clients=[c.model_dump() for c in lp_brand_idp.brand.clients],
        )
        old_brand, lp_brand_idp.brand = lp_brand_idp.brand, rotated
        assert rotated.kid != old_brand.kid
        assert login("e").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 3
        assert login("f").status == 200 and self.jwks_fetches(lp_account, lp_brand_idp) == 3
        # an unknown kid refetches once per request, then refuses
        assert_invalid_jwt(login("g", headers={"kid": "nope"}), "unknown_key")
        assert self.jwks_fetches(lp_account, lp_brand_idp) == 4

    def test_jwks_url_answering_404_refuses(self, lp_account, lp_brand_idp):
        url = f"{lp_account.handle.base_url}/brand/no-such-brand/.well-known/jwks.json"
        connector_id = add_lp_connector(lp_account, type="authenticated", issuer=lp_brand_idp.issuer, jwks_url=url)
        reply = lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("u"), connector_id=connector_id)
        assert_invalid_jwt(reply, "jwks_unavailable")


# --- the security matrix -------------------------------------------------------------------------------


def unsigned(claims: dict, alg: str = "none") -> str:
    return f"{b64url(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_with_public_key(lp_brand_idp, claims: dict) -> str:
    """The RS/HS confusion: HS256 with the brand's public key (PEM) as the HMAC secret."""
    pem = (
        brand_signing_key(lp_brand_idp.brand.private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': lp_brand_idp.kid}).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


def base_claims(lp_brand_idp, **changes) -> dict:
    claims = {"iss": lp_brand_idp.issuer, "sub": "mallory", "iat": NOW, "exp": NOW + 600, **changes}
    return {name: value for name, value in claims.items() if value is not None}


def signed(lp_brand_idp, **changes) -> str:
    """A token of the brand's key and kid with `base_claims` changed (None drops a claim)."""
    key = brand_signing_key(lp_brand_idp.brand.private_key_pem)
    return jwt.encode(base_claims(lp_brand_idp, **changes), key, algorithm="RS256", headers={"kid": lp_brand_idp.kid})


def tampered(lp_brand_idp) -> str:
    header, _, signature = lp_brand_idp.id_token("alice", now=NOW).split(".")
    return f"{header}.{b64url(json.dumps(base_claims(lp_brand_idp, sub='admin')).encode())}.{signature}"


def jwe_like(_) -> str:
    header = b64url(json.dumps({"alg": "RSA-OAEP-256", "enc": "A128CBC-HS256", "kid": "lp"}).encode())
    return f"{header}.{b64url(b'k' * 256)}.{b64url(b'iv')}.{b64url(b'c' * 64)}.{b64url(b'tag')}"


SECURITY_CASES = {
    "alg_none": (lambda b: unsigned(base_claims(b)), "wrong_algorithm"),
    "alg_none_with_signature": (lambda b: unsigned(base_claims(b)) + "c2ln", "wrong_algorithm"),
    "hs256_public_key_as_secret": (lambda b: hs256_with_public_key(b, base_claims(b)), "wrong_algorithm"),
    "rs384": (
        lambda b: jwt.encode(
            base_claims(b), brand_signing_key(b.brand.private_key_pem), algorithm="RS384", headers={"kid": b.kid}
        ),
        "wrong_algorithm",
    ),
    "key_of_another_brand": (
        lambda b: jwt.encode(base_claims(b), other_key(), algorithm="RS256", headers={"kid": b.kid}),
        "bad_signature",
    ),
    "tampered_payload": (tampered, "bad_signature"),
    "stripped_signature": (lambda b: b.id_token("alice", now=NOW).rsplit(".", 1)[0] + ".", "bad_signature"),
    "wrong_kid": (lambda b: b.id_token("alice", now=NOW, headers={"kid": "kid-of-nobody"}), "unknown_key"),
    "no_kid": (
        lambda b: jwt.encode(base_claims(b), brand_signing_key(b.brand.private_key_pem), algorithm="RS256"),
        "unknown_key",
    ),
    "wrong_issuer": (lambda b: b.id_token("alice", now=NOW, iss="https://evil.example"), "wrong_issuer"),
    "missing_iss": (lambda b: signed(b, iss=None), "missing_claim"),
    "missing_iat": (lambda b: signed(b, iat=None), "missing_claim"),
    "missing_exp": (lambda b: signed(b, exp=None), "missing_claim"),
    "missing_sub": (lambda b: signed(b, sub=None), "missing_claim"),
    "empty_sub": (lambda b: b.id_token("", now=NOW), "missing_claim"),
    "expired_exactly_now": (lambda b: b.id_token("alice", now=NOW - 600, ttl=600), "expired"),
    "not_before_in_a_second": (lambda b: b.id_token("alice", now=NOW, nbf=NOW + 1), "not_yet_valid"),
    "issued_in_a_second": (lambda b: b.id_token("alice", now=NOW + 1), "not_yet_valid"),
    "exp_not_a_number": (lambda b: b.id_token("alice", now=NOW, exp="tomorrow"), "malformed"),
    "oversized": (lambda b: b.id_token("alice", now=NOW, padding="x" * 17_000), "token_too_large"),
    "garbage": (lambda b: "not-a-jwt", "malformed"),
    "not_a_string": (lambda b: 12345, "malformed"),
    "empty": (lambda b: "", "malformed"),
}


@frozen
@pytest.mark.parametrize("case", list(SECURITY_CASES))
def test_security_matrix_refuses_with_9007_and_changes_nothing(lp_account, lp_brand_idp, case):
    make, reason = SECURITY_CASES[case]
    before = consumers_of(lp_account)
    assert_invalid_jwt(lp_brand_idp.authenticate_reply(id_token=make(lp_brand_idp)), reason)
    assert consumers_of(lp_account) == before


@frozen
def test_encrypted_jwt_is_9012(lp_account, lp_brand_idp):
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(id_token=jwe_like(lp_brand_idp)), "encrypted_jwt", {"internalErrorCode": "9012"}
    )


@frozen
@pytest.mark.parametrize(
    "claims",
    [{"now": NOW - 599, "ttl": 600}, {"now": NOW, "nbf": NOW}, {"now": NOW}, {"now": NOW - 5, "aud": "anyone"}],
    ids=["exp_in_a_second", "nbf_now", "iat_now", "any_audience"],
)
def test_time_claim_boundaries_that_pass(lp_brand_idp, claims):
    assert lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("alice", **claims)).status == 200


# --- legacy authenticate ---------------------------------------------------------------------------------


def legacy(account, body):
    return account.handle.post(account.idp_path("authenticate"), json=body)


def test_legacy_authenticate_takes_a_brand_jwt(lp_account, lp_brand_idp):
    reply = legacy(lp_account, {"authCode": lp_brand_idp.id_token("legacy-user")})
    assert reply.status == 200 and set(reply.json()) == {"jwt"}
    assert claims_of(reply.json()["jwt"])["lp.ext"] == {"sub": "legacy-user", "iss": lp_brand_idp.issuer}


def test_legacy_authenticate_takes_a_code(lp_account, lp_brand_idp):
    reply = legacy(lp_account, {"authCode": lp_brand_idp.code("coder", given_name="Cody")})
    assert reply.status == 200 and claims_of(reply.json()["jwt"])["lp.ext"]["sub"] == "coder"


def test_legacy_authenticate_uses_the_first_authenticated_connector(lp_account, lp_brand_idp):
    add_lp_connector(lp_account, type="authenticated", issuer="https://other.example", jwt_public_key="MIIB")
    assert legacy(lp_account, {"authCode": lp_brand_idp.id_token("first")}).status == 200


def test_legacy_authenticate_errors(lp_account, lp_brand_idp):
    assert_invalid_jwt(
        legacy(lp_account, {"authCode": lp_brand_idp.id_token("x", iss="https://evil.example")}), "wrong_issuer"
    )
    for body in ({}, {"authCode": ""}, {"authCode": 5}):
        reply = legacy(lp_account, body)
        assert (reply.status, reply.headers["X-Emulator-Reason"]) == (400, "missing_auth_code")


def test_legacy_authenticate_without_an_authenticated_connector_is_404(lp_account):
    reply = legacy(lp_account, {"authCode": "a.b.c"})
    assert (reply.status, reply.headers["X-Emulator-Reason"]) == (404, "no_authenticated_connector")
    assert legacy_unknown_account(lp_account).status == 401


def legacy_unknown_account(account):
    return account.handle.post("/api/account/4242/authenticate", json={"authCode": "a.b.c"})


# --- connector configuration and seeds -------------------------------------------------------------------


def test_all_connectors_shows_a_brand_connector(lp_account, lp_brand_idp):
    connectors = lp_account.handle.get(lp_account.idp_path("configuration/le-connectors/all-connectors")).json()
    config = next(c for c in connectors if str(c["id"]) == lp_brand_idp.connector_id)["configuration"]
    brand_url = f"http://localhost/brand/{lp_brand_idp.brand_id}"
    assert {
        name: config[name]
        for name in (
            "jwtValidationType",
            "issuer",
            "authorizationEndpoint",
            "tokenEndpoint",
            "jwksEndpoint",
            "clientSecret",
        )
    } == {
        "jwtValidationType": "JWKS",
        "issuer": lp_brand_idp.issuer,
        "authorizationEndpoint": f"{brand_url}/authorize",
        "tokenEndpoint": f"{brand_url}/token",
        "jwksEndpoint": f"{brand_url}/.well-known/jwks.json",
        "clientSecret": None,
    }


def test_all_connectors_shows_code_flow_settings_but_no_secret(lp_account):
    connector_id = add_lp_connector(
        lp_account,
        type="authenticated",
        issuer="https://b.example",
        jwks_url="https://b.example/jwks",
        token_endpoint="https://b.example/token",
        client_id="lp",
        client_secret="s3cret",
    )
    connectors = lp_account.handle.get(lp_account.idp_path("configuration/le-connectors/all-connectors")).json()
    config = next(c for c in connectors if str(c["id"]) == connector_id)["configuration"]
    assert (config["tokenEndpoint"], config["clientId"], config["clientSecret"], config["jwksEndpoint"]) == (
        "https://b.example/token",
        "lp",
        None,
        "https://b.example/jwks",
    )


BAD_CONNECTORS = {
    "no_key_source": {"issuer": "https://b.example"},
    "two_key_sources": {"issuer": "https://b.example", "jwt_public_key": "MIIB", "jwks_url": "https://b.example/jwks"},
    "no_issuer": {"jwks_url": "https://b.example/jwks"},
    "half_code_flow": {
        "issuer": "https://b.example",
        "jwks_url": "https://b.example/jwks",
        "token_endpoint": "https://b.example/t",
    },
    "brand_with_token_endpoint": {"brand": "b", "token_endpoint": "https://b.example/t"},
    "jwks_without_keys": {"issuer": "https://b.example", "jwks": {"keys": []}},
    "jwks_with_a_bad_key": {"issuer": "https://b.example", "jwks": {"keys": [{"kty": "RSA", "n": "x"}]}},
    "jwks_kid_not_a_string": {
        "issuer": "https://b.example",
        "jwks": {
            "keys": [{**jwt.algorithms.RSAAlgorithm.to_jwk(other_key().public_key(), as_dict=True), "kid": ["k"]}]
        },
    },
}


@pytest.mark.parametrize("case", list(BAD_CONNECTORS))
def test_seed_refuses_a_misconfigured_authenticated_connector(emulator, case):
    account = {"id": "81000001", "connectors": [{"id": "1", "type": "authenticated", **BAD_CONNECTORS[case]}]}
    with pytest.raises(EmulatorError) as refused:
        emulator.control.seed({"liveperson": {"accounts": [account]}})
    assert refused.value.code == "invalid_seed"


def test_brand_ids_are_unique_across_namespaces(emulator):
    brand = seed_brand(emulator.control)
    other = emulator.control.in_namespace(f"{emulator.namespace}-other")
    try:
        with pytest.raises(EmulatorError) as refused:
            other.seed({"liveperson": {"brands": [{"id": brand.id}]}})
        assert refused.value.code == "tenant_conflict"
    finally:
        other.reset()


def test_seeded_brand_gets_issuer_key_and_kid(emulator):
    brand = seed_brand(emulator.control)
    exported = emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["brands"][
        brand.id
    ]
    assert exported["issuer"] == f"https://brand.example/{brand.id}" and exported["private_key_pem"].startswith(
        "-----BEGIN PRIVATE KEY"
    )
    assert exported["kid"] == brand.kid and exported["id_token_ttl"] == 3600


# --- step-up at the IDP -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.changes: list = []

    def notify(self, change) -> None:
        self.changes.append(change)


def open_conversation(emulator_app, account, lp_jwt: str) -> str:
    """An open conversation of the unauthenticated consumer of `lp_jwt`, with one consumer message."""
    store = runtime(emulator_app).store
    with store.lock:
        namespace = store.namespace(account.handle.namespace)
        state = namespace.state("liveperson").accounts[account.id]
        conversations = Conversations(namespace, state)
        conversation = conversations.request_conversation(claims_of(lp_jwt)["sub"], {})
        conversations.publish(
            conversation, claims_of(lp_jwt)["sub"], "CONSUMER", {"type": "ContentEvent", "message": "hi"}
        )
        return conversation.id


def conversation(account, conversation_id: str) -> dict:
    return lp_state(account)["accounts"][account.id]["conversations"][conversation_id]


def test_step_up_moves_the_open_conversation_with_its_events(emulator_app, lp_account, lp_jwt, lp_brand_idp):
    conversation_id = open_conversation(emulator_app, lp_account, lp_jwt)
    recorder = Recorder()
    with emulator_app.app_context():
        notifications.listeners().add(lp_account.handle.namespace, lp_account.id, recorder)
    try:
        token = lp_brand_idp.authenticate(
            id_token=lp_brand_idp.id_token("stepper", given_name="Step"), unauth_jwt=lp_jwt
        )
    finally:
        with emulator_app.app_context():
            notifications.listeners().remove(lp_account.handle.namespace, lp_account.id, recorder)
    moved = conversation(lp_account, conversation_id)
    assert moved["consumer_id"] == claims_of(token)["sub"] and moved["stepped_up_from"] == claims_of(lp_jwt)["sub"]
    assert [e["event"]["message"] for e in moved["events"]] == ["hi"] and moved["state"] == "OPEN"
    assert len(recorder.changes) == 1
    change = recorder.changes[0]
    assert set(change.consumer_ids) == {claims_of(token)["sub"], claims_of(lp_jwt)["sub"]}
    assert (
        change.conversation["stepUp"]["fromConsumerId"] == claims_of(lp_jwt)["sub"]
        and change.conversation["authenticated"]
    )


def test_step_up_closes_the_authenticated_consumers_other_open_conversation(
    emulator_app, lp_account, lp_jwt, lp_brand_idp
):
    authenticated = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("stepper"))
    earlier = open_conversation(emulator_app, lp_account, authenticated)
    moved = open_conversation(emulator_app, lp_account, lp_jwt)
    lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("stepper"), unauth_jwt=lp_jwt)
    assert (conversation(lp_account, earlier)["state"], conversation(lp_account, earlier)["close_reason"]) == (
        "CLOSE",
        "SYSTEM",
    )
    assert conversation(lp_account, moved)["consumer_id"] == claims_of(authenticated)["sub"]


@pytest.mark.lp_account(features=[ASYNC_MESSAGING, UNAUTH_MESSAGING])
def test_without_the_step_up_features_nothing_moves(emulator_app, lp_account, lp_jwt, lp_brand_idp):
    conversation_id = open_conversation(emulator_app, lp_account, lp_jwt)
    token = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("stepper"), unauth_jwt=lp_jwt)
    assert claims_of(token)["lp.ext"]["sub"] == "stepper"
    assert conversation(lp_account, conversation_id)["consumer_id"] == claims_of(lp_jwt)["sub"]


def test_step_up_with_a_code_moves_the_conversation(emulator_app, lp_account, lp_jwt, lp_brand_idp):
    conversation_id = open_conversation(emulator_app, lp_account, lp_jwt)
    token = lp_brand_idp.authenticate(code=lp_brand_idp.code("coder"), unauth_jwt=lp_jwt)
    assert conversation(lp_account, conversation_id)["consumer_id"] == claims_of(token)["sub"]


def test_step_up_through_legacy_authenticate(emulator_app, lp_account, lp_jwt, lp_brand_idp):
    conversation_id = open_conversation(emulator_app, lp_account, lp_jwt)
    reply = lp_account.handle.post(
        lp_account.idp_path("authenticate"),
        json={"authCode": lp_brand_idp.id_token("old")},
        headers={"Authorization": f"jwt {lp_jwt}"},
    )
    assert conversation(lp_account, conversation_id)["consumer_id"] == claims_of(reply.json()["jwt"])["sub"]


def test_refused_step_up_refuses_the_exchange_and_changes_nothing(
    emulator_app, lp_account, lp_jwt, lp_brand_idp, lp_authenticated_consumer
):
    conversation_id = open_conversation(emulator_app, lp_account, lp_jwt)
    before = lp_state(lp_account)
    cases = {"garbage": "step_up_malformed", lp_authenticated_consumer.lp_jwt: "step_up_not_unauthenticated"}
    for presented, reason in cases.items():
        reply = lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("stepper"), unauth_jwt=presented)
        assert_invalid_jwt(reply, reason)
    assert lp_state(lp_account) == before
    assert conversation(lp_account, conversation_id)["consumer_id"] == claims_of(lp_jwt)["sub"]


def test_expired_unauth_jwt_cannot_step_up(lp_account, lp_jwt, lp_brand_idp, emulator_clock):
    emulator_clock.advance("2h")
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("stepper"), unauth_jwt=lp_jwt), "step_up_expired"
    )


def test_claims_the_state_could_not_hold_are_refused_and_the_state_stays_exportable(lp_account, lp_brand_idp):
    nested: list = []
    for _ in range(300):
        nested = [nested]
    assert_invalid_jwt(
        lp_brand_idp.authenticate_reply(id_token=lp_brand_idp.id_token("deep", lp_sdes=nested)), "malformed"
    )
    assert lp_state(lp_account)["accounts"][lp_account.id]["consumers"] == {}


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_claim_that_is_not_finite_is_refused(lp_brand_idp, claim):
    token = jwt.encode(
        {"iss": lp_brand_idp.issuer, "sub": "nan", "iat": 1, "exp": 4_000_000_000, claim: float("nan")},
        brand_idp_key(lp_brand_idp),
        algorithm="RS256",
        headers={"kid": lp_brand_idp.kid},
    )
    assert_invalid_jwt(lp_brand_idp.authenticate_reply(id_token=token), "malformed")


def brand_idp_key(lp_brand_idp):
    from emulator.providers.liveperson.models import brand_signing_key

    return brand_signing_key(lp_brand_idp.brand.private_key_pem)
