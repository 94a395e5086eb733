"""The signing key ring: fixed keys, pinned RS256, clock-driven expiry, rotation, export."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from emulator.core.keys import KeyRing, SigningKey, TokenError
from emulator.providers.liveperson.identity import CONSUMER_JWT_SLOT, KEY_SLOTS

SLOT = CONSUMER_JWT_SLOT.name
NOW = 1_800_000_000


def claims(**extra):
    return {"sub": "s", "aud": "acc:1", "iss": "https://idp.liveperson.net", "iat": NOW, "exp": NOW + 600, **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def reason_of(ring: KeyRing, token: object, **kwargs) -> str:
    with pytest.raises(TokenError) as caught:
        ring.verify(SLOT, token, NOW, **kwargs)
    return caught.value.reason


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing(KEY_SLOTS)


def test_signs_rs256_with_the_slot_kid_and_verifies(ring):
    token = ring.sign(SLOT, claims())
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "00001", "typ": "JWT"}
    assert ring.verify(SLOT, token, NOW, audience="acc:1", issuer="https://idp.liveperson.net")["sub"] == "s"


def test_fixed_keys_are_the_same_in_every_ring_so_tokens_survive_restarts(ring):
    assert KeyRing(KEY_SLOTS).verify(SLOT, ring.sign(SLOT, claims()), NOW)["sub"] == "s"


def test_expiry_follows_the_given_time_not_the_wall_clock(ring):
    token = ring.sign(SLOT, claims(exp=NOW + 10))
    assert ring.verify(SLOT, token, NOW + 9)
    with pytest.raises(TokenError) as caught:
        ring.verify(SLOT, token, NOW + 10)
    assert caught.value.reason == TokenError.EXPIRED
    assert ring.verify(SLOT, token, NOW + 10, check_expiry=False)["sub"] == "s"


def test_not_before_in_the_future_is_refused(ring):
    assert reason_of(ring, ring.sign(SLOT, claims(nbf=NOW + 5))) == TokenError.NOT_YET_VALID


@pytest.mark.parametrize("token", ["\ud800", "eyJ\u00e9.e30.sig", "\ud83d\ude00.e30.x"])
def test_a_token_that_is_not_ascii_is_malformed_not_a_crash(ring, token):
    assert reason_of(ring, token) == TokenError.MALFORMED


def test_alg_none_is_refused(ring):
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": "00001"})
    assert reason_of(ring, token) == TokenError.MALFORMED


def test_hs256_signed_with_the_public_key_is_refused(ring):
    """Algorithm confusion: the RSA public key used as an HMAC secret."""
    public_pem = ring.current(SLOT).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': '00001', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert reason_of(ring, f"{signing_input}.{b64(signature)}") == TokenError.MALFORMED


def test_another_key_with_the_same_kid_is_a_bad_signature(ring):
    forged = jwt.encode(claims(), SigningKey.generate("x").private_key, algorithm="RS256", headers={"kid": "00001"})
    assert reason_of(ring, forged) == TokenError.BAD_SIGNATURE


def test_unknown_or_missing_kid_is_refused(ring):
    token = jwt.encode(claims(), ring.current(SLOT).private_key, algorithm="RS256")
    assert reason_of(ring, token) == TokenError.UNKNOWN_KEY


def test_tampered_payload_is_a_bad_signature(ring):
    header, _, signature = ring.sign(SLOT, claims()).split(".")
    forged_payload = b64(json.dumps(claims(sub="someone-else")).encode())
    assert reason_of(ring, f"{header}.{forged_payload}.{signature}") == TokenError.BAD_SIGNATURE


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", None, 42, {"token": 1}])
def test_garbage_is_malformed(ring, garbage):
    assert reason_of(ring, garbage) == TokenError.MALFORMED


def test_audience_issuer_and_required_claims_are_checked(ring):
    assert reason_of(ring, ring.sign(SLOT, claims()), audience="acc:2") == TokenError.WRONG_AUDIENCE
    assert reason_of(ring, ring.sign(SLOT, claims()), issuer="https://other") == TokenError.WRONG_ISSUER
    no_exp = {k: v for k, v in claims().items() if k != "exp"}
    assert reason_of(ring, ring.sign(SLOT, no_exp)) == TokenError.MISSING_CLAIM


def test_rotation_signs_with_a_new_kid_and_keeps_old_tokens_valid_during_grace(ring):
    old = ring.sign(SLOT, claims())
    new_key = ring.rotate(SLOT)
    assert new_key.kid == "00002"
    new = ring.sign(SLOT, claims())
    assert jwt.get_unverified_header(new)["kid"] == "00002"
    assert ring.verify(SLOT, old, NOW) and ring.verify(SLOT, new, NOW)


def test_rotation_with_a_grace_period_retires_old_keys_when_it_ends(ring):
    old = ring.sign(SLOT, claims(exp=NOW + 3600))
    ring.rotate(SLOT, retire_at=NOW + 60)
    assert ring.verify(SLOT, old, NOW + 59)["sub"] == "s"
    with pytest.raises(TokenError) as caught:
        ring.verify(SLOT, old, NOW + 60)
    assert caught.value.reason == TokenError.UNKNOWN_KEY
    assert ring.verify(SLOT, ring.sign(SLOT, claims(exp=NOW + 3600)), NOW + 61)["sub"] == "s"


def test_rotation_without_grace_retires_old_keys_at_once(ring):
    old = ring.sign(SLOT, claims())
    ring.rotate(SLOT, retire_at=NOW)
    assert reason_of(ring, old) == TokenError.UNKNOWN_KEY


def test_rotated_keys_survive_export_and_restore(ring):
    old = ring.sign(SLOT, claims())
    ring.rotate(SLOT, retire_at=NOW)
    token = ring.sign(SLOT, claims())
    restored = KeyRing(KEY_SLOTS)
    restored.restore(json.loads(json.dumps(ring.export())))
    assert restored.verify(SLOT, token, NOW)["sub"] == "s"
    assert reason_of(restored, old) == TokenError.UNKNOWN_KEY
    assert restored.rotate(SLOT).kid == "00003"
