"""LivePerson's Login Service, agentVep (reference sections 3.1 to 3.4, 9 and 10.1): login, refresh, logout."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_fuzz import Body, check_reply, content_types, header_text, json_values, raw_bodies, world

from emulator.core.keys import KeyRing
from emulator.providers.liveperson import login as login_module
from emulator.providers.liveperson.login import session_of_bearer
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonAgentSession, add_lp_user, lp_login
from emulator.web import REASON_HEADER, runtime

NOW = "2026-03-01T12:00:00Z"
NOW_MS = 1_772_366_400_000
ERROR_TIME = "2026-03-01T12:00:00.000+00:00"
BAD_AUTHENTICATION = "Bad Authentication (invalid site or agent)"
CSRF_INVALID = "CSRF token invalid! The CSRF token on request does not match the CSRF token on the session"
SESSION_INVALID = "Session is not valid or has expired: log in again"
HEX64 = re.compile(r"[0-9a-f]{64}")

AGENT = {"username": "agent1", "password": "s3cret"}
BOT_KEYS = {"app_key": "ak", "secret": "sec", "access_token": "at", "access_token_secret": "ats"}
BOT = {"username": "bot1", **BOT_KEYS}
BOT_LOGIN = {"username": "bot1", "appKey": "ak", "secret": "sec", "accessToken": "at", "accessTokenSecret": "ats"}
USERS = [
    AGENT,
    BOT,
    {"username": "locked1", "password": "p", "state": "locked"},
    {"username": "old1", "password": "p", "state": "password_expired"},
    {"username": "oldbot", "password": "p", "state": "password_expired", **BOT_KEYS},
    {"username": "admin1", "password": "p", "user_id": "3705342610", "is_admin": True, "privileges": [100, 101, 1730]},
]
CONFIG_KEYS = {
    "loginName",
    "userId",
    "userPid",
    "userPrivileges",
    "serverCurrentTime",
    "timeDiff",
    "serverTimeZoneName",
    "serverTimeGMTDiff",
    "isLPA",
    "isAdmin",
    "accountTimeZoneId",
}
with_users = pytest.mark.lp_account(users=USERS)


def lp_error(status: int, message: str, at: str = ERROR_TIME) -> dict:
    """LivePerson's envelope at the frozen test time (internalCode 10 for 401, else the status)."""
    code = 10 if status == 401 else status
    return {"error": {"time": at, "message": message, "internalCode": code, "responseStatus": HTTPStatus(status).name}}


def login(account: LivePersonAccount, body: Any, version: str | None = "1.3", **kwargs: Any):
    params = {} if version is None else {"v": version}
    return account.handle.post(account.idp_path("login"), params=params, json=body, **kwargs)


def session_call(account: LivePersonAccount, action: str, cookie: str | None, body: Any, **kwargs: Any):
    headers = {} if cookie is None else {"Cookie": cookie}
    return account.handle.post(account.idp_path(action), json=body, headers=headers, **kwargs)


def refused(reply, status: int, message: str, reason: str, at: str = ERROR_TIME) -> None:
    assert (reply.status, reply.json(), reply.headers[REASON_HEADER]) == (status, lp_error(status, message, at), reason)


def lp_state(handle: EmulatorHandle) -> dict:
    return handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]


def account_model(emulator_app: Any, account: LivePersonAccount):
    namespace = runtime(emulator_app).store.view(account.handle.namespace)
    return namespace, namespace.state("liveperson").accounts[account.id]


# --- login: the 200 answer ------------------------------------------------------------------------------


@with_users
@pytest.mark.emulator_time(NOW)
def test_login_answers_everything_clients_read(lp_account, emulator_backend):
    reply = login(lp_account, AGENT)
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {
        "csrf",
        "wsuk",
        "config",
        "csdsCollectionResponse",
        "accountData",
        "sessionTTl",
        "bearer",
        "sessionId",
    }
    assert HEX64.fullmatch(body["bearer"]) and HEX64.fullmatch(body["csrf"]) and body["bearer"] != body["csrf"]
    assert re.fullmatch(r"[0-9]{18}", body["wsuk"]) and re.fullmatch(r"[0-9a-f]{32}", body["sessionId"])
    assert body["sessionTTl"] == "28800000"  # a string of milliseconds
    config = body["config"]
    assert set(config) == CONFIG_KEYS
    assert re.fullmatch(r"[1-9][0-9]{9}", config["userId"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", config["userPid"])
    assert {k: v for k, v in config.items() if k not in ("userId", "userPid")} == {
        "loginName": "agent1",
        "userPrivileges": [],
        "serverCurrentTime": NOW_MS,
        "timeDiff": 0,
        "serverTimeZoneName": "UTC",
        "serverTimeGMTDiff": 0,
        "isLPA": False,
        "isAdmin": False,
        "accountTimeZoneId": "UTC",
    }
    all_services = emulator_backend.get(lp_account.idp_path("service/baseURI.json")).json()
    assert body["csdsCollectionResponse"] == all_services
    assert {"agentVep", "asyncMessagingEnt", "facadeMsg"} <= {s["service"] for s in all_services["baseURIs"]}
    assert body["accountData"] == {
        "agentGroupsData": {"items": [{"id": -1, "deleted": False, "name": "Main Group"}], "revision": 1}
    }
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith(f"session_id={body['sessionId']};") and "HttpOnly" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http: a client's cookie jar must replay it


@with_users
def test_each_login_opens_its_own_session_with_the_same_user_ids(lp_account):
    first, second = login(lp_account, AGENT).json(), login(lp_account, AGENT).json()
    assert {first[k] for k in ("bearer", "csrf", "sessionId", "wsuk")}.isdisjoint(
        {second[k] for k in ("bearer", "csrf", "sessionId", "wsuk")}
    )
    assert (first["config"]["userId"], first["config"]["userPid"]) == (
        second["config"]["userId"],
        second["config"]["userPid"],
    )
    assert login(lp_account, BOT_LOGIN).json()["config"]["userId"] != first["config"]["userId"]
    for session in (first, second):  # the second login leaves the first session alone
        assert (
            session_call(lp_account, "refresh", f"session_id={session['sessionId']}", {"csrf": session["csrf"]}).status
            == 200
        )


@with_users
def test_seeded_user_fields_fill_the_config(lp_account):
    config = login(lp_account, {"username": "admin1", "password": "p"}).json()["config"]
    assert (config["userId"], config["isAdmin"], config["userPrivileges"]) == ("3705342610", True, [100, 101, 1730])


@with_users
@pytest.mark.parametrize("version", ["1.1", "1.2", "1.3"])
def test_login_versions_1_1_to_1_3(lp_account, version):
    assert login(lp_account, AGENT, version).status == 200


@with_users
@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("version", [None, "", "1.0", "1.4", "2.0", "3.0", "1.3 "])
def test_other_versions_are_a_bad_request(lp_account, version):
    refused(login(lp_account, AGENT, version), 400, "unsupported version: use v=1.3", "unsupported_version")


@with_users
def test_bot_logs_in_with_its_api_keys(lp_account):
    reply = login(lp_account, BOT_LOGIN)
    assert reply.status == 200 and reply.json()["config"]["loginName"] == "bot1"


@with_users
@pytest.mark.lp_account(users=USERS, settings={"session_ttl": "90s"})
def test_session_ttl_follows_the_account(lp_account):
    assert login(lp_account, AGENT).json()["sessionTTl"] == "90000"


def test_login_registers_an_opaque_bearer_without_signing(lp_account, monkeypatch):
    """Opaque tokens only: a login never reaches the RSA key ring."""
    add_lp_user(lp_account, **AGENT)

    def no_rsa(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a login signed something")

    monkeypatch.setattr(KeyRing, "sign", no_rsa)
    assert login(lp_account, AGENT).status == 200


# --- login: refusals --------------------------------------------------------------------------------------


REFUSALS = {
    "wrong_password": ({"username": "agent1", "password": "S3cret"}, BAD_AUTHENTICATION),
    "unknown_user": ({"username": "nobody", "password": "s3cret"}, BAD_AUTHENTICATION),
    "empty_password": ({"username": "agent1", "password": ""}, BAD_AUTHENTICATION),
    "password_of_an_api_key_user": ({"username": "bot1", "password": ""}, BAD_AUTHENTICATION),
    "wrong_api_keys": ({**BOT_LOGIN, "accessTokenSecret": "atS"}, BAD_AUTHENTICATION),
    "api_keys_of_a_password_user": ({**BOT_LOGIN, "username": "agent1"}, BAD_AUTHENTICATION),
    "user_locked": ({"username": "locked1", "password": "p"}, f"{BAD_AUTHENTICATION}: the user is locked"),
    "password_expired": ({"username": "old1", "password": "p"}, f"{BAD_AUTHENTICATION}: the password has expired"),
    "saml_not_emulated": (
        {"jwt": "dummy", "assertion": "<saml/>"},
        f"{BAD_AUTHENTICATION}: SAML login is not emulated",
    ),
}
REASONS = {
    "empty_password": "wrong_password",
    "password_of_an_api_key_user": "wrong_password",
    "api_keys_of_a_password_user": "wrong_api_keys",
}


@with_users
@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("case", REFUSALS)
def test_login_refusals_are_401_bad_authentication(lp_account, emulator_backend, case):
    body, message = REFUSALS[case]
    before = world(emulator_backend)
    refused(login(lp_account, body), 401, message, REASONS.get(case, case))
    assert world(emulator_backend) == before


@pytest.mark.lp_account(users=USERS, sso_only=True)
@pytest.mark.emulator_time(NOW)
def test_sso_only_account_refuses_password_logins_not_api_keys(lp_account):
    refused(
        login(lp_account, AGENT),
        401,
        f"{BAD_AUTHENTICATION}: the account logs users in through single sign-on only",
        "sso_only",
    )
    assert login(lp_account, BOT_LOGIN).status == 200


@pytest.mark.lp_account(users=USERS, features=["Messaging.Un_Auth_Messaging"])
@pytest.mark.emulator_time(NOW)
def test_api_keys_need_the_bot_user_type(lp_account):
    refused(
        login(lp_account, BOT_LOGIN),
        401,
        f"{BAD_AUTHENTICATION}: the account does not have the Bot user type",
        "bot_user_type_disabled",
    )
    assert login(lp_account, AGENT).status == 200


@pytest.mark.lp_account(users=USERS, features=["Common.User_Type_Bot"])
def test_the_bot_user_type_feature_lets_api_keys_in(lp_account):
    assert login(lp_account, BOT_LOGIN).status == 200


@with_users
def test_an_expired_password_does_not_stop_api_keys(lp_account):
    assert login(lp_account, {**BOT_LOGIN, "username": "oldbot"}).status == 200


@pytest.mark.emulator_time(NOW)
def test_unknown_account_is_an_invalid_site(emulator):
    for action in ("login", "refresh", "logout"):
        reply = emulator.post(f"/api/account/99999999999/{action}", params={"v": "1.3"}, json={**AGENT, "csrf": "x"})
        refused(reply, 401, "invalid site", "unknown_account")


BAD_BODIES = {
    "not JSON": (b"{username", "request body is not valid JSON", "malformed_json"),
    "an array": (b'[{"username": "agent1"}]', "request body must be a JSON object", "body_not_object"),
    "a string": (b'"agent1"', "request body must be a JSON object", "body_not_object"),
    "no username": (b'{"password": "s3cret"}', "username is required", "missing_username"),
    "username a number": (b'{"username": 1, "password": "s3cret"}', "username must be a string", "bad_username"),
    "password null": (b'{"username": "agent1", "password": null}', "password must be a string", "bad_password"),
    "no credentials": (
        b'{"username": "agent1"}',
        "password, or appKey, secret, accessToken and accessTokenSecret, are required",
        "missing_credentials",
    ),
    "empty body": (b"", "username is required", "missing_username"),
    "three API keys": (
        b'{"username": "bot1", "appKey": "ak", "secret": "sec", "accessToken": "at"}',
        "accessTokenSecret is required",
        "missing_accessTokenSecret",
    ),
    "an API key a list": (
        b'{"username": "bot1", "appKey": ["ak"], "secret": "sec", "accessToken": "at", "accessTokenSecret": "ats"}',
        "appKey must be a string",
        "bad_appKey",
    ),
}


@with_users
@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("case", BAD_BODIES)
def test_malformed_login_body_is_a_bad_request(lp_account, emulator_backend, case):
    raw, message, reason = BAD_BODIES[case]
    before = world(emulator_backend)
    reply = lp_account.handle.post(
        lp_account.idp_path("login"), params={"v": "1.3"}, data=raw, headers={"Content-Type": "application/json"}
    )
    refused(reply, 400, message, reason)
    assert world(emulator_backend) == before


# --- login retried too fast -------------------------------------------------------------------------------


@pytest.mark.lp_account(users=USERS, settings={"login_min_interval": "5s"})
@pytest.mark.emulator_time(NOW)
def test_a_login_within_login_min_interval_is_429(lp_account, emulator_backend, emulator_clock):
    assert login(lp_account, AGENT).status == 200
    before = world(emulator_backend)
    too_soon = login(lp_account, AGENT)
    refused(too_soon, 429, "Too many login requests: wait before logging in again", "login_too_soon")
    assert too_soon.headers["Retry-After"] == "5"
    assert world(emulator_backend) == before
    assert login(lp_account, BOT_LOGIN).status == 200  # another user is not held back
    emulator_clock.advance("4.5s")
    assert login(lp_account, AGENT).headers["Retry-After"] == "1"
    emulator_clock.advance("0.5s")
    assert login(lp_account, AGENT).status == 200


@with_users
def test_no_login_interval_by_default(lp_account):
    assert [login(lp_account, AGENT).status for _ in range(3)] == [200, 200, 200]


@pytest.mark.lp_account(users=USERS, settings={"login_min_interval": "1m"})
def test_refused_logins_do_not_start_the_interval(lp_account):
    assert login(lp_account, {**AGENT, "password": "wrong"}).status == 401
    assert login(lp_account, AGENT).status == 200


def test_login_min_interval_changes_at_run_time(lp_account, emulator_clock):
    add_lp_user(lp_account, **AGENT)
    emulator_clock.set_ttl(account=lp_account.id, login_min_interval="1m")
    assert [login(lp_account, AGENT).status for _ in range(2)] == [200, 429]


# --- refresh and logout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"v": "1.3"}, {"v": "1.2"}, {"v": "anything"}])
def test_refresh_is_200_with_an_empty_body(lp_agent_session, params):
    reply = lp_agent_session.refresh(params=params)
    assert (reply.status, reply.body) == (200, b"")


@pytest.mark.parametrize("name", ["session_id", "Session_id", "SESSION_ID", "sEsSiOn_Id"])
def test_the_cookie_name_is_matched_case_insensitively(lp_agent_session, name):
    reply = lp_agent_session.refresh(headers={"Cookie": f"lp=1; {name}={lp_agent_session.session_id}; other=2"})
    assert reply.status == 200


@pytest.mark.emulator_time(NOW)
def test_refresh_slides_the_idle_lifetime(lp_agent_session, emulator_clock):
    ttl = lp_agent_session.session_ttl
    for _ in range(3):  # three idle periods of ttl - 1 s: past the login's own lifetime
        emulator_clock.advance(ttl - 1)
        assert lp_agent_session.refresh().status == 200
    emulator_clock.advance(ttl)
    refused_reply = lp_agent_session.refresh()
    assert (refused_reply.status, refused_reply.headers[REASON_HEADER]) == (401, "session_expired")


@pytest.mark.emulator_time(NOW)
def test_an_idle_session_expires_after_session_ttl(expired_lp_agent_session):
    eight_hours_and_a_second_later = "2026-03-01T20:00:01.000+00:00"
    refused(expired_lp_agent_session.refresh(), 401, SESSION_INVALID, "session_expired", eight_hours_and_a_second_later)
    refused(expired_lp_agent_session.logout(), 401, SESSION_INVALID, "session_expired", eight_hours_and_a_second_later)


@pytest.mark.emulator_time(NOW)
def test_a_session_lives_until_the_last_moment_of_its_ttl(lp_agent_session, emulator_clock):
    emulator_clock.advance(lp_agent_session.session_ttl - 0.001)
    assert lp_agent_session.refresh().status == 200


@pytest.mark.emulator_time(NOW)
def test_logout_ends_the_session(lp_agent_session, emulator_app):
    reply = lp_agent_session.logout()
    assert (reply.status, reply.body) == (200, b"")
    refused(lp_agent_session.refresh(), 401, SESSION_INVALID, "unknown_session")
    refused(lp_agent_session.logout(), 401, SESSION_INVALID, "unknown_session")
    namespace, account = account_model(emulator_app, lp_agent_session.account)
    assert session_of_bearer(account, lp_agent_session.bearer, namespace.clock.now(), namespace.tokens) is None


def test_logout_leaves_other_sessions_alone(lp_agent_session):
    other = lp_login(lp_agent_session.account, lp_agent_session.credentials)
    assert other.logout().status == 200
    assert lp_agent_session.refresh().status == 200


@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("action", ["refresh", "logout"])
@pytest.mark.parametrize(
    "body, reason",
    [
        ({"csrf": "0" * 64}, "csrf_mismatch"),
        ({}, "missing_csrf"),
        ({"csfr": "<csrf>"}, "missing_csrf"),
        ({"csrf": None}, "missing_csrf"),
        ({"csrf": 1}, "missing_csrf"),
    ],
)
def test_a_wrong_or_missing_csrf_is_401(lp_agent_session, emulator_backend, action, body, reason):
    body = {k: lp_agent_session.csrf if v == "<csrf>" else v for k, v in body.items()}  # cliangLP's typo
    before = world(emulator_backend)
    refused(getattr(lp_agent_session, action)(json=body), 401, CSRF_INVALID, reason)
    assert world(emulator_backend) == before
    assert lp_agent_session.refresh().status == 200


@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("action", ["refresh", "logout"])
def test_the_session_cookie_is_needed(lp_agent_session, emulator, action):
    account = lp_agent_session.account
    csrf = {"csrf": lp_agent_session.csrf}
    refused(session_call(account, action, None, csrf), 401, SESSION_INVALID, "no_session_cookie")
    refused(
        session_call(account, action, "sessionid=" + lp_agent_session.session_id, csrf),
        401,
        SESSION_INVALID,
        "no_session_cookie",
    )
    refused(session_call(account, action, "session_id=" + "0" * 32, csrf), 401, SESSION_INVALID, "unknown_session")
    refused(
        session_call(account, action, "session_id=" + lp_agent_session.bearer, csrf),
        401,
        SESSION_INVALID,
        "unknown_session",
    )
    other = LivePersonAccount("98765432101", "1", 600.0, emulator)
    emulator.control.seed({"liveperson": {"accounts": [{"id": other.id}]}})
    refused(
        session_call(other, action, "session_id=" + lp_agent_session.session_id, csrf),
        401,
        SESSION_INVALID,
        "unknown_session",
    )
    assert lp_agent_session.refresh().status == 200


@pytest.mark.emulator_time(NOW)
@pytest.mark.parametrize("action", ["refresh", "logout"])
@pytest.mark.parametrize(
    "raw, message, reason",
    [
        (b"{csrf", "request body is not valid JSON", "malformed_json"),
        (b'["csrf"]', "request body must be a JSON object", "body_not_object"),
    ],
)
def test_a_refresh_body_that_is_not_a_json_object_is_400(lp_agent_session, action, raw, message, reason):
    reply = getattr(lp_agent_session, action)(json=None, data=raw, headers={"Content-Type": "application/json"})
    refused(reply, 400, message, reason)


def test_a_cookie_of_another_session_needs_that_sessions_csrf(lp_agent_session):
    other = lp_login(lp_agent_session.account, lp_agent_session.credentials)
    reply = lp_agent_session.refresh(csrf=other.csrf)
    assert (reply.status, reply.headers[REASON_HEADER]) == (401, "csrf_mismatch")


# --- the token lifecycle reaches sessions ----------------------------------------------------------------


@pytest.mark.emulator_time(NOW)
def test_expiring_the_bearer_ends_the_session(lp_agent_session, emulator_clock):
    assert emulator_clock.expire(lp_agent_session.bearer)["target"] == "token"
    refused(lp_agent_session.refresh(), 401, SESSION_INVALID, "expired")


@pytest.mark.emulator_time(NOW)
def test_expiring_the_bearer_later_ends_it_then(lp_agent_session, emulator_clock):
    emulator_clock.expire(lp_agent_session.bearer, at="2026-03-01T12:01:00Z")
    assert lp_agent_session.refresh().status == 200
    emulator_clock.advance("60s")
    assert lp_agent_session.refresh().headers[REASON_HEADER] == "expired"


def test_revoking_the_account_reaches_its_sessions(lp_agent_session, lp_bot_session, emulator_clock):
    emulator_clock.revoke(account=lp_agent_session.account.id)
    assert [s.refresh().headers.get(REASON_HEADER) for s in (lp_agent_session, lp_bot_session)] == [
        "revoked",
        "revoked",
    ]
    fresh = lp_login(lp_agent_session.account, lp_agent_session.credentials)  # a selector never reaches later tokens
    assert fresh.refresh().status == 200


def test_a_user_selector_reaches_only_that_users_sessions(lp_agent_session, lp_bot_session, emulator_clock):
    answer = emulator_clock.expire(account=lp_bot_session.account.id, user=lp_bot_session.username)
    assert answer["target"] == [f"liveperson:user:{lp_bot_session.account.id}:{lp_bot_session.username}"]
    assert lp_bot_session.refresh().headers[REASON_HEADER] == "expired"
    assert lp_agent_session.refresh().status == 200


def test_a_user_selector_needs_the_account(lp_agent_session, emulator):
    reply = emulator.post(
        "/__emulator/tokens/expire", params={"namespace": emulator.namespace}, json={"user": lp_agent_session.username}
    )
    assert reply.status == 400 and reply.json()["error"]["message"] == "name the account of the user"


def test_injected_failures_reach_refresh(lp_agent_session, emulator_clock):
    emulator_clock.fail_validations(lp_agent_session.bearer, times=1)
    assert lp_agent_session.refresh().headers[REASON_HEADER] == "injected_failure"
    assert lp_agent_session.refresh().status == 200


def test_session_of_bearer_finds_live_sessions_only(lp_agent_session, emulator_app, emulator_clock):
    namespace, account = account_model(emulator_app, lp_agent_session.account)
    now = namespace.clock.now()
    found = session_of_bearer(account, lp_agent_session.bearer, now, namespace.tokens)
    assert found is not None and (found.session_id, found.username) == (
        lp_agent_session.session_id,
        lp_agent_session.username,
    )
    for other in (lp_agent_session.csrf, "0" * 64, "", None, 42):
        assert session_of_bearer(account, other, now, namespace.tokens) is None
    assert (
        session_of_bearer(account, lp_agent_session.bearer, now + lp_agent_session.session_ttl, namespace.tokens)
        is None
    )
    emulator_clock.revoke(lp_agent_session.bearer)
    assert session_of_bearer(account, lp_agent_session.bearer, now, namespace.tokens) is None


# --- sessions are state -----------------------------------------------------------------------------------


def test_sessions_survive_export_and_import(lp_agent_session, emulator_clock):
    document = emulator_clock.export_state()
    sessions = document["namespaces"][emulator_clock.namespace]["providers"]["liveperson"]["accounts"][
        lp_agent_session.account.id
    ]["sessions"]
    assert (
        set(sessions) == {lp_agent_session.session_id}
        and sessions[lp_agent_session.session_id]["bearer"] == lp_agent_session.bearer
    )
    emulator_clock.reset()
    assert lp_agent_session.refresh().status == 401
    emulator_clock.import_state(document)
    assert emulator_clock.export_state() == document
    assert lp_agent_session.refresh().status == 200


@pytest.mark.parametrize(
    "field, value",
    [
        ("bearer", "not-hex"),
        ("csrf", "A" * 64),
        ("session_id", "x"),
        ("ttl", -1),
        ("wsuk", "12a"),
        ("last_active", "soon"),
        ("extra", 1),
    ],
)
def test_an_import_with_a_bad_session_changes_nothing(lp_agent_session, emulator_clock, field, value):
    document = emulator_clock.export_state()
    account = document["namespaces"][emulator_clock.namespace]["providers"]["liveperson"]["accounts"][
        lp_agent_session.account.id
    ]
    account["sessions"][lp_agent_session.session_id][field] = value
    with pytest.raises(Exception, match="invalid_state|sessions"):
        emulator_clock.import_state(document)
    assert lp_agent_session.refresh().status == 200


def test_a_session_filed_under_another_id_is_refused(lp_agent_session, emulator_clock):
    document = emulator_clock.export_state()
    account = document["namespaces"][emulator_clock.namespace]["providers"]["liveperson"]["accounts"][
        lp_agent_session.account.id
    ]
    account["sessions"]["f" * 32] = account["sessions"].pop(lp_agent_session.session_id)
    with pytest.raises(Exception, match="filed under"):
        emulator_clock.import_state(document)


def test_sessions_are_bounded(lp_account, monkeypatch, emulator_clock):
    monkeypatch.setattr(login_module, "MAX_SESSIONS", 3)
    add_lp_user(lp_account, **AGENT)
    sessions = [lp_login(lp_account, AGENT) for _ in range(4)]
    assert len(lp_state(lp_account.handle)["accounts"][lp_account.id]["sessions"]) == 3
    assert [s.refresh().status for s in sessions] == [401, 200, 200, 200]  # the least recently used went first


def test_idle_sessions_are_forgotten_at_the_next_login(lp_agent_session, emulator_clock):
    emulator_clock.advance(lp_agent_session.session_ttl)
    fresh = lp_login(lp_agent_session.account, lp_agent_session.credentials)
    assert set(lp_state(lp_agent_session.account.handle)["accounts"][lp_agent_session.account.id]["sessions"]) == {
        fresh.session_id
    }


@pytest.mark.emulator_time(NOW)
def test_a_seed_may_hold_sessions_and_refuses_duplicate_usernames(emulator):
    now = NOW_MS / 1000
    session = {
        "session_id": "a" * 32,
        "username": "agent1",
        "bearer": "b" * 64,
        "csrf": "c" * 64,
        "wsuk": "1",
        "ttl": "8h",
        "created_at": now,
        "last_active": now,
    }
    emulator.control.seed(
        {"liveperson": {"accounts": [{"id": "98765432102", "users": [AGENT], "sessions": {"a" * 32: session}}]}}
    )
    account = LivePersonAccount("98765432102", "1", 600.0, emulator)
    assert session_call(account, "refresh", "session_id=" + "a" * 32, {"csrf": "c" * 64}).status == 200
    with pytest.raises(Exception, match="duplicate username"):
        emulator.control.seed({"liveperson": {"accounts": [{"id": "98765432103", "users": [AGENT, AGENT]}]}})


def test_the_dashboard_lists_live_sessions(lp_agent_session, emulator_app):
    namespace, _ = account_model(emulator_app, lp_agent_session.account)
    rows = namespace.state("liveperson").live_credentials(namespace.clock.now())
    assert rows == [
        {
            "kind": "agent session",
            "subject": f"{lp_agent_session.account.id} / {lp_agent_session.username}",
            "expires_at": rows[0]["expires_at"],
        }
    ]
    assert namespace.state("liveperson").live_credentials(rows[0]["expires_at"]) == []


# --- fixtures ------------------------------------------------------------------------------------------------


def test_lp_agent_session_fixture(lp_agent_session: LivePersonAgentSession, lp_account):
    assert lp_agent_session.account is lp_account and lp_agent_session.username.startswith("agent-")
    assert HEX64.fullmatch(lp_agent_session.bearer) and HEX64.fullmatch(lp_agent_session.csrf)
    assert lp_agent_session.cookies == {"session_id": lp_agent_session.session_id}
    assert lp_agent_session.headers() == {"Cookie": f"session_id={lp_agent_session.session_id}"}
    assert re.fullmatch(r"[0-9]+", lp_agent_session.user_id) and lp_agent_session.session_ttl == 8 * 3600
    assert lp_agent_session.refresh().status == 200 and lp_agent_session.logout().status == 200


def test_lp_bot_session_fixture(lp_bot_session, lp_agent_session):
    assert lp_bot_session.username.startswith("bot-") and "appKey" in lp_bot_session.credentials
    assert lp_bot_session.user_id != lp_agent_session.user_id
    assert lp_bot_session.refresh().status == 200


def test_fixture_users_keep_the_accounts_state(lp_account, lp_ext_jwt, lp_agent_session):
    """Adding the fixture's user re-seeds the account from its own export: consumers stay."""
    assert len(lp_state(lp_account.handle)["accounts"][lp_account.id]["consumers"]) == 1
    assert lp_account.exchange(lp_ext_jwt)


def test_expired_agent_session_fixture(expired_lp_agent_session):
    assert expired_lp_agent_session.refresh().headers[REASON_HEADER] == "session_expired"


class TestOverHttp:
    """A real socket, and a client that replays its cookie jar as node-agent-sdk and agent-sample-app do."""

    @pytest.fixture
    def emulator_backend(self, emulator_server):
        return emulator_server

    def test_a_cookie_jar_carries_the_session(self, lp_agent_session, emulator_server):
        client = requests.Session()
        account = lp_agent_session.account
        url = f"{emulator_server.base_url}/api/account/{account.id}"
        body = client.post(f"{url}/login", params={"v": "1.3"}, json=lp_agent_session.credentials, timeout=10).json()
        assert client.cookies.get("session_id") == body["sessionId"]
        reply = client.post(f"{url}/refresh", params={"v": "1.3"}, json={"csrf": body["csrf"]}, timeout=10)
        assert (reply.status_code, reply.content) == (200, b"")
        assert client.post(f"{url}/logout", json={"csrf": body["csrf"]}, timeout=10).status_code == 200
        assert client.post(f"{url}/refresh", json={"csrf": body["csrf"]}, timeout=10).status_code == 401

    def test_the_transport_sends_only_the_cookies_a_test_names(self, lp_agent_session):
        """The fixtures' transport keeps no cookie jar, in-process and over HTTP alike."""
        assert lp_agent_session.refresh().status == 200
        reply = lp_agent_session.account.handle.post(
            lp_agent_session.account.idp_path("refresh"), json={"csrf": lp_agent_session.csrf}
        )
        assert reply.headers[REASON_HEADER] == "no_session_cookie"


def test_the_in_process_transport_keeps_no_cookie_jar(lp_agent_session):
    reply = lp_agent_session.account.handle.post(
        lp_agent_session.account.idp_path("refresh"), json={"csrf": lp_agent_session.csrf}
    )
    assert reply.headers[REASON_HEADER] == "no_session_cookie"


# --- malformed requests -------------------------------------------------------------------------------------

SEEDED_USER = "<agent>"
PASSWORD = "<password>"
CSRF = "<csrf>"
COOKIE = "<cookie>"
login_fields = st.sampled_from(
    ["username", "password", "appKey", "secret", "accessToken", "accessTokenSecret", "jwt", "assertion", "csrf"]
)
field_values = st.one_of(st.sampled_from([SEEDED_USER, PASSWORD, "ak", "sec", "at", "ats", CSRF]), json_values)
structured_bodies = st.dictionaries(login_fields | st.text(max_size=8), field_values, max_size=6).map(Body.of_json)
real_cookie = st.sampled_from([f"session_id={COOKIE}", f"Session_id={COOKIE}", f"a=b; SESSION_ID={COOKIE}"])
cookies = st.one_of(
    real_cookie,
    real_cookie,
    st.none(),
    header_text,
    st.builds(
        lambda name, value: f"{name}={value}",
        st.sampled_from(["session_id", "Session_id", "SESSION_ID", "sid"]),
        st.sampled_from([COOKIE, "", "0" * 32]) | header_text,
    ),
)


def resolve(value: Any, session: LivePersonAgentSession) -> Any:
    if isinstance(value, dict):
        return {k: resolve(v, session) for k, v in value.items()}
    known = {
        SEEDED_USER: session.username,
        PASSWORD: session.credentials["password"],
        CSRF: session.csrf,
        COOKIE: session.session_id,
    }
    return known.get(value, value) if isinstance(value, str) else value


@pytest.mark.lp_account(settings={"login_min_interval": "1s"})
@settings(max_examples=150)
@given(
    action=st.sampled_from(["login", "refresh", "logout"]),
    method=st.sampled_from(["POST"] * 8 + ["GET", "DELETE"]),
    params=st.one_of(
        st.none(),
        st.none(),
        st.dictionaries(
            st.sampled_from(["v", "csrf"]) | st.text(max_size=4),
            st.sampled_from(["1.1", "1.3", "2.0", ""]) | header_text,
            max_size=2,
        ),
    ),
    body=st.one_of(st.builds(Body, raw_bodies, content_types), structured_bodies, structured_bodies),
    cookie=cookies,
)
@example(action="refresh", method="POST", params=None, body=Body.of_json({"csfr": CSRF}), cookie=f"session_id={COOKIE}")
@example(
    action="login",
    method="POST",
    params={"v": "1.3"},
    body=Body.of_json({"username": SEEDED_USER, "password": 1}),
    cookie=None,
)
@example(
    action="login",
    method="POST",
    params={"v": "1.3"},
    body=Body.of_json({"username": SEEDED_USER, "password": PASSWORD}),
    cookie=None,
)
@example(action="refresh", method="POST", params=None, body=Body.of_json({"csrf": CSRF}), cookie=f"Session_Id={COOKIE}")
def test_malformed_login_service_requests_are_answered_and_change_nothing(
    emulator: EmulatorHandle, lp_agent_session: LivePersonAgentSession, action, method, params, body, cookie
):
    session = lp_agent_session
    if body.data is not None and body.content_type == "application/json":
        try:
            body = Body.of_json(resolve(json.loads(body.data), session))
        except ValueError:
            pass
    headers = {**body.headers}
    if cookie is not None:
        headers["Cookie"] = cookie.replace(COOKIE, session.session_id)
    path = session.account.idp_path(action)
    before = world(emulator)
    reply = emulator.request(
        method, path, data=body.data, headers=headers, params={"v": "1.3"} if params is None else params
    )
    assert reply.status < 500 and b"Traceback" not in reply.body
    if reply.status == 200 and action != "login":
        assert reply.body == b""
    else:
        check_reply(reply, path)
    if reply.status >= 400:
        assert world(emulator) == before, f"{method} {path} was refused ({reply.status}) yet changed state"
