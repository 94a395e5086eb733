"""LivePerson's Login Service (agentVep): user and bot logins, the sessions they open, refresh and logout.

Reference: liveperson.md sections 3.1 to 3.4. The bearer and csrf are opaque random strings (no signing),
kept in the account's state with the session; the bearer is also registered with the namespace's token
lifecycle, so `control.expire/revoke(token=bearer)` and the `account=` / `account=, user=` selectors reach
the session it belongs to.
"""

from __future__ import annotations

import functools
import math
import operator
import secrets
import uuid
from collections.abc import Iterable

from flask import Response
from werkzeug.datastructures import MultiDict

from ...core.keys import TokenError, same_secret
from ...core.lifecycle import TokenLifecycle
from ...core.store import Namespace
from .errors import LivePersonError
from .identity import user_token_subjects
from .models import BOT_USER_TYPE, MAX_SESSIONS, Account, AgentSession, User

LOGIN_VERSIONS = ("1.1", "1.2", "1.3")  # [C/CC] 1.3 documented; 1.2 and 1.1 sent by public clients
SESSION_COOKIE = "session_id"  # [CC] faas-cli's spelling; the doc says Session_id: matched case-insensitively
BAD_AUTHENTICATION = "Bad Authentication (invalid site or agent)"  # [C] the login doc's only 401 text
CSRF_INVALID = "CSRF token invalid! The CSRF token on request does not match the CSRF token on the session"  # [C]
SESSION_INVALID = "Session is not valid or has expired: log in again"  # [I] not public
TOO_MANY_LOGINS = "Too many login requests: wait before logging in again"  # [I] not public
# [C] the body's API-key fields, and the seed's names for them
API_KEY_FIELDS = {
    "appKey": "app_key",
    "secret": "secret",
    "accessToken": "access_token",
    "accessTokenSecret": "access_token_secret",
}
TIME_ZONE = "UTC"  # [I] the emulator's server and accounts keep UTC: timeDiff and serverTimeGMTDiff are 0
MAIN_GROUP = {"id": -1, "deleted": False, "name": "Main Group"}  # [C] the doc example's accountData
_LAST_ACTIVE = operator.attrgetter("last_active")


class LoginTooSoon(LivePersonError):
    """[I] 429 in the envelope, with `Retry-After` (the retry-policy page asks for at least 5 s)."""

    def __init__(self, wait: float) -> None:
        super().__init__(429, TOO_MANY_LOGINS, "login_too_soon")
        self.retry_after = max(1, math.ceil(wait))

    def response(self) -> Response:
        response = super().response()
        response.headers["Retry-After"] = str(self.retry_after)
        return response


def _refused(reason: str, detail: str | None = None) -> LivePersonError:
    """[I] every login refusal is the documented 401; the message names the case after the documented text."""
    return LivePersonError(401, f"{BAD_AUTHENTICATION}: {detail}" if detail else BAD_AUTHENTICATION, reason)


def _session_refused(reason: str, message: str = SESSION_INVALID) -> LivePersonError:
    return LivePersonError(401, message, reason)


def _same(given: str, expected: str | None) -> bool:
    """A secret the user may not have (a password of an API-key user) never matches."""
    return expected is not None and same_secret(given, expected)


def _text_field(body: dict, field: str) -> str:
    value = body.get(field)
    if field not in body:
        raise LivePersonError(400, f"{field} is required", f"missing_{field}")  # [?] 400 "bad body" [C]
    if not isinstance(value, str):
        raise LivePersonError(400, f"{field} must be a string", f"bad_{field}")
    return value


def user_id_of(account_id: str, user: User) -> str:
    """`config.userId`: the seeded `user_id`, else ten digits derived from account and username [I]."""
    if user.user_id is not None:
        return user.user_id
    return _derived_user_id(account_id, user.username)


def user_pid_of(account_id: str, user: User) -> str:
    """`config.userPid` (node-agent-sdk's `agentId`): [I] a UUID derived from account and user id."""
    return _derived_user_pid(account_id, user_id_of(account_id, user))


@functools.lru_cache(maxsize=4096)  # pure functions of their arguments: each login would hash them again
def _derived_user_id(account_id: str, username: str) -> str:
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"liveperson:{account_id}:{username}").int
    return str(10**9 + digest % (9 * 10**9))


@functools.lru_cache(maxsize=4096)
def _derived_user_pid(account_id: str, user_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"liveperson:{account_id}:user:{user_id}"))


def session_cookie_values(cookies: Iterable[tuple[str, str]]) -> list[str]:
    """The values of every `session_id` cookie, whatever the case of its name (`Session_id` in the doc)."""
    return [value for name, value in cookies if name.lower() == SESSION_COOKIE]


def session_of_bearer(account: Account, bearer: object, now: float, lifecycle: TokenLifecycle) -> AgentSession | None:
    """The live session whose bearer this is (for the agent WebSocket, which carries it in its path), or
    None: unknown, logged out, idle past its TTL, or expired/revoked through the control API."""
    if not isinstance(bearer, str):
        return None
    session = next((s for s in account.sessions.values() if s.bearer == bearer), None)
    if session is None or not session.live(now):
        return None
    try:
        lifecycle.check(bearer, now)
    except TokenError:
        return None
    return session


class LoginService:
    """The Login Service's rules for one account, on the namespace's clock and token lifecycle."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._tokens = namespace.tokens
        self._now = namespace.clock.now()
        self._account = account

    # --- login -------------------------------------------------------------------------------------

    def login(self, body: dict) -> tuple[AgentSession, User]:
        """A user (`username`, `password`) or a bot (`username` + the four API-key fields) logs in."""
        api_keys = any(field in body for field in API_KEY_FIELDS)
        if not api_keys and "password" not in body and "assertion" in body:
            # [I] node-agent-sdk's SAML form ({"jwt", "assertion"}) is not emulated: refused as bad authentication
            raise _refused("saml_not_emulated", "SAML login is not emulated")
        username = _text_field(body, "username")
        if api_keys:
            given = {field: _text_field(body, field) for field in API_KEY_FIELDS}
        elif "password" in body:
            password = _text_field(body, "password")
        else:
            raise LivePersonError(
                400,
                "password, or appKey, secret, accessToken and accessTokenSecret, are required",
                "missing_credentials",
            )

        account = self._account
        user = account.user(username)
        if user is None:
            raise _refused("unknown_user")
        self._check_login_interval(username)
        if api_keys:
            if not account.has_feature(BOT_USER_TYPE):
                raise _refused("bot_user_type_disabled", "the account does not have the Bot user type")
            if not all(_same(given[field], getattr(user, name)) for field, name in API_KEY_FIELDS.items()):
                raise _refused("wrong_api_keys")
        else:
            if account.sso_only:
                raise _refused("sso_only", "the account logs users in through single sign-on only")
            if not _same(password, user.password):
                raise _refused("wrong_password")
        if user.state == "locked":
            raise _refused("user_locked", "the user is locked")
        if user.state == "password_expired" and not api_keys:  # [I] API keys do not expire with the password
            raise _refused("password_expired", "the password has expired")
        return self._open_session(user), user

    def _check_login_interval(self, username: str) -> None:
        interval = self._account.settings.login_min_interval
        last = self._account.last_logins.get(username)
        if interval > 0 and last is not None and self._now < last + interval:
            raise LoginTooSoon(last + interval - self._now)

    def _open_session(self, user: User) -> AgentSession:
        account = self._account
        self._prune()
        session = AgentSession(
            session_id=secrets.token_hex(16),
            username=user.username,
            bearer=secrets.token_hex(32),  # [C] 64 lowercase hex, opaque
            csrf=secrets.token_hex(32),  # [C] 64 lowercase hex
            wsuk=str(10**17 + secrets.randbelow(9 * 10**17)),  # [C] a numeric string; 18 digits as in the doc
            ttl=account.settings.session_ttl,
            created_at=self._now,
            last_active=self._now,
        )
        account.sessions[session.session_id] = session
        account.last_logins[user.username] = self._now
        self._tokens.issued(session.bearer, user_token_subjects(account.id, user.username), session.expires_at())
        return session

    def _prune(self) -> None:
        """Forget sessions idle past their TTL, and the least recently used beyond MAX_SESSIONS - 1."""
        sessions, now = self._account.sessions, self._now
        # `AgentSession.live` inlined (this runs on every login, over up to MAX_SESSIONS sessions)
        for session_id in [s.session_id for s in sessions.values() if not now < s.last_active + s.ttl]:
            del sessions[session_id]
        while len(sessions) >= MAX_SESSIONS:
            del sessions[min(sessions.values(), key=_LAST_ACTIVE).session_id]

    # --- refresh and logout --------------------------------------------------------------------------

    def refresh(self, cookie_values: list[str], body: dict) -> None:
        """[I] sliding: a successful refresh restarts the session's idle lifetime."""
        self._session(cookie_values, body).last_active = self._now

    def logout(self, cookie_values: list[str], body: dict) -> None:
        """[I] the session ends: its cookie, csrf and bearer stop working at once."""
        del self._account.sessions[self._session(cookie_values, body).session_id]

    def _session(self, cookie_values: list[str], body: dict) -> AgentSession:
        """The live session the cookie names, once the body's csrf matches it; else the 401 that fits."""
        session = next((self._account.sessions[v] for v in cookie_values if v in self._account.sessions), None)
        if session is None:
            raise _session_refused("unknown_session" if cookie_values else "no_session_cookie")
        if not session.live(self._now):
            raise _session_refused("session_expired")
        csrf = body.get("csrf")
        if not isinstance(csrf, str):  # [C] a missing csrf (cliangLP's `csfr` typo) is a mismatch
            raise _session_refused("missing_csrf", CSRF_INVALID)
        if not _same(csrf, session.csrf):
            raise _session_refused("csrf_mismatch", CSRF_INVALID)
        try:
            self._tokens.check(session.bearer, self._now)
        except TokenError as exc:
            raise _session_refused(exc.reason) from None
        return session


def login_body(account: Account, session: AgentSession, user: User, base_uris: list[dict], now: float) -> dict:
    """The 200 body of a login: the doc example plus `sessionId` and `config.userPid` [C][CC]."""
    return {
        "csrf": session.csrf,
        "wsuk": session.wsuk,
        "config": {
            "loginName": user.username,
            "userId": user_id_of(account.id, user),
            "userPid": user_pid_of(account.id, user),
            "userPrivileges": list(user.privileges),
            "serverCurrentTime": int(now * 1000),
            "timeDiff": 0,
            "serverTimeZoneName": TIME_ZONE,
            "serverTimeGMTDiff": 0,
            "isLPA": False,
            "isAdmin": user.is_admin,
            "accountTimeZoneId": TIME_ZONE,
        },
        "csdsCollectionResponse": {"baseURIs": base_uris},
        "accountData": {"agentGroupsData": {"items": [dict(MAIN_GROUP)], "revision": 1}},
        "sessionTTl": str(round(session.ttl * 1000)),  # [C] a string of milliseconds
        "bearer": session.bearer,
        "sessionId": session.session_id,
    }


def cookie_pairs(cookies: MultiDict[str, str]) -> list[tuple[str, str]]:
    """Every (name, value) of a werkzeug MultiDict of cookies."""
    return list(cookies.items(multi=True))
