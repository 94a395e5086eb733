"""Token lifecycle control on LivePerson's tokens, the same in-process and over HTTP."""

import jwt
import pytest

from emulator.client import EmulatorError

INVALID = {"internalErrorCode": "9007"}


@pytest.fixture(params=["emulator", "emulator_server"])
def emulator_backend(request):
    return request.getfixturevalue(request.param)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def refresh(account, token):
    return account.handle.post(account.idp_path("anonymous/authorize"), json={"id_token": token})


def exchange(account, token):
    path = account.idp_path(f"app/{account.unauth_connector_id}/authenticate")
    return account.handle.post(path, params={"v": "3.0"}, json={"id_token": token})


def assert_refused(reply, reason: str) -> None:
    assert (reply.status, reply.json()) == (401, INVALID)
    assert reply.headers["X-Emulator-Reason"] == reason


@pytest.fixture
def control(emulator_backend):
    return emulator_backend.control


def test_expire_a_token_now_it_stays_refreshable(control, lp_account, lp_ext_jwt):
    assert control.expire(lp_ext_jwt)["namespace"] == control.namespace
    assert_refused(exchange(lp_account, lp_ext_jwt), "expired")
    fresh = refresh(lp_account, lp_ext_jwt)
    assert fresh.status == 200
    assert exchange(lp_account, fresh.json()["token"]).status == 200


@pytest.mark.emulator_time("2026-05-01T00:00:00Z")
def test_expire_at_a_given_time(control, lp_account, lp_ext_jwt):
    control.expire(lp_ext_jwt, at="2026-05-01T00:05:00Z")
    control.advance(299)
    assert exchange(lp_account, lp_ext_jwt).status == 200
    control.advance(1)
    assert_refused(exchange(lp_account, lp_ext_jwt), "expired")


def test_expire_every_token_of_an_account_but_not_later_ones(control, lp_account):
    first, second = lp_account.issue_ext_jwt(), lp_account.issue_ext_jwt()
    control.expire(account=lp_account.id)
    assert_refused(exchange(lp_account, first), "expired")
    assert_refused(exchange(lp_account, second), "expired")
    assert exchange(lp_account, lp_account.issue_ext_jwt()).status == 200


def test_expire_one_consumer_only(control, lp_account):
    mine, theirs = lp_account.issue_ext_jwt(), lp_account.issue_ext_jwt()
    control.expire(account=lp_account.id, consumer=claims_of(mine)["sub"])
    assert_refused(exchange(lp_account, mine), "expired")
    assert exchange(lp_account, theirs).status == 200


def test_revoke_a_token_no_refresh_brings_it_back(control, lp_account, lp_ext_jwt):
    control.revoke(lp_ext_jwt)
    assert_refused(exchange(lp_account, lp_ext_jwt), "revoked")
    assert_refused(refresh(lp_account, lp_ext_jwt), "revoked")


def test_revoke_a_consumer_kills_the_refresh_chain(control, lp_account, lp_ext_jwt):
    refreshed = refresh(lp_account, lp_ext_jwt).json()["token"]
    control.revoke(consumer=claims_of(lp_ext_jwt)["sub"])
    assert_refused(refresh(lp_account, refreshed), "revoked")
    assert exchange(lp_account, lp_account.issue_ext_jwt()).status == 200  # a new consumer is unaffected


def test_the_next_n_validations_fail(control, lp_account, lp_ext_jwt):
    control.fail_validations(lp_ext_jwt, times=2)
    assert_refused(exchange(lp_account, lp_ext_jwt), "injected_failure")
    assert_refused(refresh(lp_account, lp_ext_jwt), "injected_failure")
    assert exchange(lp_account, lp_ext_jwt).status == 200


def test_rotation_keeps_old_tokens_working_by_default(control, lp_account, lp_ext_jwt):
    old_lp_jwt = lp_account.exchange(lp_ext_jwt)
    rotated = control.rotate_keys(account=lp_account.id)
    assert {r["slot"]: r["kid"] for r in rotated} == {
        "liveperson.consumer": "00002",
        "liveperson.external": "idp-ext-00001-2",
        "liveperson.appjwt": "appjwt-13-05-17-2",
    }
    assert exchange(lp_account, lp_ext_jwt).status == 200
    new_lp_jwt = lp_account.exchange(lp_account.issue_ext_jwt())
    assert jwt.get_unverified_header(old_lp_jwt)["kid"] == "00001"
    assert jwt.get_unverified_header(new_lp_jwt)["kid"] == "00002"


def test_rotation_without_grace_refuses_old_tokens(control, lp_account, lp_ext_jwt):
    control.rotate_keys(grace="0s")
    assert_refused(exchange(lp_account, lp_ext_jwt), "unknown_key")
    assert exchange(lp_account, lp_account.issue_ext_jwt()).status == 200


def test_rotation_with_a_grace_period(control, lp_account, lp_ext_jwt):
    control.freeze()
    control.rotate_keys(grace="5m")
    control.advance("4m")
    assert exchange(lp_account, lp_ext_jwt).status == 200
    control.advance("1m")
    assert_refused(exchange(lp_account, lp_ext_jwt), "unknown_key")


def test_lifetimes_change_at_run_time(control, lp_account):
    settings = control.set_ttl(account=lp_account.id, ext_jwt_ttl="30s")
    assert settings["ext_jwt_ttl"] == 30 and settings["ext_jwt_refresh_window"] == 730 * 3600
    token = lp_account.issue_ext_jwt()
    assert claims_of(token)["exp"] - claims_of(token)["iat"] == 30


@pytest.mark.parametrize(
    ("call", "status", "code"),
    [
        (lambda c: c.expire("not-a-token-we-issued"), 404, "unknown_token"),
        (lambda c: c.revoke(account="1"), 404, "unknown_tenant"),
        (lambda c: c.expire(colour="red"), 400, "invalid_selector"),
        (lambda c: c.expire(), 400, "invalid_selector"),
        (lambda c: c.fail_validations("x", times=0), 400, "invalid_body"),
        (lambda c: c.rotate_keys(grace="later"), 400, "invalid_body"),
        (lambda c: c.set_ttl(account="1", ext_jwt_ttl="30s"), 404, "unknown_tenant"),
    ],
)
def test_bad_lifecycle_calls(control, lp_account, call, status, code):
    with pytest.raises(EmulatorError) as caught:
        call(control)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_bad_settings_name_the_field(control, lp_account):
    with pytest.raises(EmulatorError) as caught:
        control.set_ttl(account=lp_account.id, ext_jwt_ttl="forever")
    assert (caught.value.status, caught.value.field) == (400, "ext_jwt_ttl")
    with pytest.raises(EmulatorError) as caught:
        control.set_ttl(account=lp_account.id, colour="blue")
    assert caught.value.field == "colour"


def test_bad_expiry_time(control, lp_account, lp_ext_jwt):
    with pytest.raises(EmulatorError) as caught:
        control.expire(lp_ext_jwt, at="someday")
    assert (caught.value.status, caught.value.field) == (400, "at")


def test_overrides_survive_export_and_import(control, lp_account, lp_ext_jwt):
    control.revoke(lp_ext_jwt)
    exported = control.export_state()
    control.reset()
    control.import_state(exported)
    assert_refused(exchange(lp_account, lp_ext_jwt), "revoked")
