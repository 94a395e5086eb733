"""EmulatorClient: the Python mirror of the /__emulator control API, over HTTP or in-process."""

from __future__ import annotations

import functools
import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:  # requests is imported on first use: a test run that never calls out does not load it
    import requests

CONTROL = "/__emulator"
NAMESPACE_HEADER = "X-Emulator-Namespace"  # the namespace of a provider request that names no known tenant
RECORD_PATH = "/record"  # under CONTROL: a namespace's journal as a scenario (control/record.py)
TOKEN_HEADER = "X-Emulator-Token"


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, the same whichever transport carried it."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


class Transport(Protocol):
    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply: ...


class HttpTransport:
    """Requests to an emulator server at `base_url`. Like AppTransport it keeps no cookies (unless given a
    session of its own): a test sends the cookies it means to send, as a `Cookie` header."""

    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or cookieless_session()
        self._timeout = timeout

    def send(self, method, path, *, params=None, json=None, data=None, headers=None, timeout=None) -> Reply:
        response = self._session.request(
            method,
            self.base_url + path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            timeout=timeout or self._timeout,
        )
        return Reply(response.status_code, response.headers, response.content)


def cookieless_session() -> requests.Session:
    import http.cookiejar

    import requests

    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # stores no cookie
    return session


class AppTransport:
    """Requests to an in-process emulator app through Flask's test client: no socket, no thread.

    A fault that drops the connection raises what `requests` raises over a socket, at once (a hang
    becomes a timeout without the wait), so a test behaves the same in-process and over HTTP.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def send(self, method, path, *, params=None, json=None, data=None, headers=None, timeout=None) -> Reply:
        # the environ as Flask's test client builds it, run without the client's response object, redirect
        # handling and cookie jar (a jar would drop a `Cookie` header): a third of an in-process call's cost
        from flask.testing import EnvironBuilder
        from werkzeug.test import run_wsgi_app

        builder = EnvironBuilder(
            self.app,
            path,
            method=method,
            query_string=params,
            json=json,
            data=data,
            headers=dict(headers or {}),
            environ_base=_test_client_environ_base(),
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        chunks, status, headers_read = run_wsgi_app(self.app, environ, buffered=True)
        reply_headers = cast("Mapping[str, str]", headers_read)  # werkzeug's Headers: a mapping, case-insensitive
        body = b"".join(chunks)
        failure = dropped_connection(method, reply_headers, body)
        if failure is not None:
            raise failure
        return Reply(int(status.split(" ", 1)[0]), reply_headers, body)


@functools.cache
def _test_client_environ_base() -> dict[str, str]:
    """What Flask's test client puts in every environ: the client's address and user agent."""
    from importlib.metadata import version

    return {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": f"Werkzeug/{version('werkzeug')}"}


def dropped_connection(method: str, headers: Mapping[str, str], body: bytes) -> requests.RequestException | None:
    """What a client over a socket would get instead of an in-process answer that a fault drops or cuts short."""
    from .core.faults import ABORT_HEADER  # not at import: it loads pydantic, which the plugin defers

    abort = headers.get(ABORT_HEADER)
    if abort in _ABORT_ERRORS:
        return _requests_error(_ABORT_ERRORS[abort], f"injected fault: {abort} (in-process)")
    promised = headers.get("Content-Length")
    if method.upper() != "HEAD" and promised is not None and promised.isdigit() and int(promised) > len(body):
        return _requests_error("ChunkedEncodingError", "injected fault: body cut short (in-process)")
    return None


_ABORT_ERRORS = {"reset": "ConnectionError", "empty": "ConnectionError", "hang": "ReadTimeout"}


def _requests_error(name: str, message: str) -> requests.RequestException:
    """The `requests.exceptions` error called `name` (requests imported only when a fault needs it)."""
    import requests

    return getattr(requests.exceptions, name)(message)


class EmulatorError(Exception):
    """A control call the emulator refused; `body` holds its `{"error": {code, message, field}}`."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        where = f" (field {error['field']})" if error.get("field") else ""
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}{where}")
        self.status = status
        self.body = body
        self.code = error.get("code")
        self.field = error.get("field")


def _instant(value: str | datetime) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.isoformat()
    return value


class EmulatorClient:
    """Control of one namespace of an emulator: `EmulatorClient("http://localhost:8080")`.

    `token`: the emulator's control token (`serve --control-token`), sent as X-Emulator-Token.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        namespace: str = "default",
        transport: Transport | None = None,
        token: str | None = None,
    ) -> None:
        if transport is None:
            if base_url is None:
                raise ValueError("give the emulator's base_url or a transport")
            transport = HttpTransport(base_url)
        self.transport = transport
        self.namespace = namespace
        self.token = token

    def in_namespace(self, namespace: str) -> EmulatorClient:
        return EmulatorClient(namespace=namespace, transport=self.transport, token=self.token)

    def _call(
        self,
        verb: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        query = {"namespace": self.namespace, **{k: str(v) for k, v in (params or {}).items() if v is not None}}
        if self.token is not None:
            headers = {**(headers or {}), TOKEN_HEADER: self.token}
        reply = self.transport.send(verb, CONTROL + path, params=query, json=json, data=data, headers=headers)
        body = reply.json()
        if reply.status >= 400:
            raise EmulatorError(reply.status, body)
        return body

    def health(self) -> dict:
        return self._call("GET", "/health")

    def reset(self) -> None:
        """Drop this namespace's tenants, clock and keys, and forget its journal."""
        self._call("POST", "/reset")

    def reset_all(self) -> None:
        self.in_namespace("*")._call("POST", "/reset")

    def seed(self, seed: Mapping[str, Any] | str) -> dict:
        """Add tenants (a seed mapping, or YAML/JSON text); answers `{"namespace", "tenants"}`."""
        if isinstance(seed, str):
            return self._call("POST", "/seed", data=seed.encode(), headers={"Content-Type": "application/yaml"})
        return self._call("POST", "/seed", json=dict(seed))

    def export_state(self) -> dict:
        return self._call("GET", "/state")

    def import_state(self, document: Mapping[str, Any]) -> list[str]:
        return self._call("POST", "/state", json=dict(document))["imported"]

    def clock(self) -> dict:
        """`{"now": ISO 8601 UTC, "frozen": bool}`."""
        return self._call("GET", "/clock")

    def now(self) -> datetime:
        return datetime.fromisoformat(self.clock()["now"].replace("Z", "+00:00"))

    def move_clock(self, **change: Any) -> dict:
        """The raw clock call: any of `set`, `advance`, `freeze`."""
        return self._call("POST", "/clock", json=change)

    def freeze(self, at: str | datetime | None = None) -> dict:
        return self.move_clock(freeze=True) if at is None else self.move_clock(set=_instant(at), freeze=True)

    def unfreeze(self) -> dict:
        return self.move_clock(freeze=False)

    def set_time(self, at: str | datetime) -> dict:
        return self.move_clock(set=_instant(at))

    def advance(self, duration: str | float) -> dict:
        """Move this namespace's clock forward: `advance("11m")`, `advance(90)`."""
        return self.move_clock(advance=duration)

    def journal(
        self,
        provider: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Requests this namespace received, oldest first; `path` is a glob (`*`, `**`)."""
        filters = {"provider": provider, "method": method, "path": path, "status": status, "limit": limit}
        return self._call("GET", "/journal", params=filters)["entries"]

    def clear_journal(self) -> None:
        self._call("DELETE", "/journal")

    # --- journal assertions ------------------------------------------------------------------------

    def calls(self, **filters: Any) -> list[dict]:
        """The recorded requests matching `provider`, `method`, `path` (glob) and `status`."""
        return self.journal(**filters)

    def assert_called(self, times: int | None = None, **filters: Any) -> list[dict]:
        """Assert a matching request was made (exactly `times` times, if given); answers the matches."""
        matches = self.calls(**filters)
        if (times is None and not matches) or (times is not None and len(matches) != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(f"expected a {_describe(filters)} {wanted}, saw {len(matches)}\n{self._nearest()}")
        return matches

    def assert_not_called(self, **filters: Any) -> None:
        matches = self.calls(**filters)
        if matches:
            raise AssertionError(f"expected no {_describe(filters)}, saw {len(matches)}\n{self._nearest()}")

    def _nearest(self, count: int = 10) -> str:
        entries = self.journal(limit=count)
        if not entries:
            return "the journal of this namespace is empty"
        lines = [
            f"  {e['method']} {e['path']}{'?' + e['query'] if e['query'] else ''} -> {e['status']}" for e in entries
        ]
        return f"last {len(entries)} request(s) of namespace {self.namespace!r}:\n" + "\n".join(lines)

    # --- webhook deliveries -------------------------------------------------------------------------

    def deliveries(self) -> list[dict]:
        """Outgoing webhook deliveries of this namespace: `id`, `kind`, `url`, `payload`, `headers`, `state`
        (pending | delivered | failed), `attempts` [{at, status, error}], `next_attempt_at` (emulated time)."""
        return self._call("GET", "/deliveries")["deliveries"]

    def flush_deliveries(self) -> list[dict]:
        """Attempt every delivery due now and wait for every attempt under way; answers the deliveries."""
        return self._call("POST", "/deliveries/flush")["deliveries"]

    def hold_deliveries(self) -> list[dict]:
        """Attempt nothing in this namespace until `release_deliveries()`."""
        return self._call("POST", "/deliveries/hold")["deliveries"]

    def release_deliveries(self) -> list[dict]:
        """End a hold: what is due now is attempted before the answer."""
        return self._call("POST", "/deliveries/release")["deliveries"]

    # --- faults -----------------------------------------------------------------------------------

    def add_fault(self, kind: str, match: Mapping[str, str] | None = None, **spec: Any) -> str:
        """Add a fault rule: `add_fault("status", status=503, match={"path": "/api/**"}, times=2)`; answers its id."""
        return self._call("POST", "/faults", json={"kind": kind, "match": dict(match or {}), **spec})["id"]

    def faults(self) -> list[dict]:
        """The rules of this namespace with their `matched` and `fired` counts."""
        return self._call("GET", "/faults")["faults"]

    def remove_fault(self, rule_id: str) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # --- token lifecycle ----------------------------------------------------------------------------

    def expire(self, token: str | None = None, at: str | datetime | None = None, **selector: str) -> dict:
        """Expire a token (or every token of `account=`/`consumer=`), now or `at` a time."""
        return self._call(
            "POST", "/tokens/expire", json=_target(token, selector, at=None if at is None else _instant(at))
        )

    def revoke(self, token: str | None = None, **selector: str) -> dict:
        return self._call("POST", "/tokens/revoke", json=_target(token, selector))

    def fail_validations(self, token: str, times: int = 1) -> dict:
        """The next `times` validations of `token` fail."""
        return self._call("POST", "/tokens/fail", json={"token": token, "times": times})

    def rotate_keys(self, grace: str | float | None = None, **selector: str) -> list[dict]:
        """New signing keys; old tokens verify for `grace` (None: forever, 0: not at all)."""
        body = {**selector, **({} if grace is None else {"grace": grace})}
        return self._call("POST", "/tokens/rotate", json=body)["rotated"]

    def set_ttl(self, **settings: Any) -> dict:
        """Change a tenant's lifetimes at run time: `set_ttl(account="123", ext_jwt_ttl="30s")`."""
        return self._call("POST", "/tokens/ttl", json=settings)["settings"]

    # --- what the dashboard shows (secrets masked by the emulator) -----------------------------------

    def namespaces(self) -> list[str]:
        return self._call("GET", "/namespaces")["namespaces"]

    def requests(
        self,
        provider: str | None = None,
        path: str | None = None,
        status: int | str | None = None,
        fault: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """This namespace's journal with secrets masked, each entry's `reason` and the `tokens` it `used` and
        `issued` (fingerprints); `path` is a substring, `status` a code or a class (`"4xx"`), `fault` a kind or `"any"`."""
        filters = {"provider": provider, "path": path, "status": status, "fault": fault, "after": after, "limit": limit}
        return self._call("GET", "/requests", params=filters)["entries"]

    def timeline(self) -> dict:
        """Live tokens (`fingerprint`, `subjects`, `issued_at`, `expires_at`) and sessions, and the clock's `now`."""
        return self._call("GET", "/timeline")

    def token_details(self, fingerprint: str) -> dict:
        """One token by fingerprint: subjects, times, `revoked`, and its JWT `header` and `claims` (never the token)."""
        return self._call("GET", f"/timeline/tokens/{fingerprint}")

    def conversations(self) -> list[dict]:
        """LivePerson and Sunshine conversations of this namespace: participants, step-up, events in order."""
        return self._call("GET", "/conversations")["conversations"]


def _target(token: str | None, selector: Mapping[str, str], **extra: Any) -> dict:
    body = {**selector, **{k: v for k, v in extra.items() if v is not None}}
    return {"token": token, **body} if token is not None else body


def _describe(filters: Mapping[str, Any]) -> str:
    named = " ".join(f"{k}={v}" for k, v in filters.items() if v is not None)
    return f"request with {named}" if named else "request"
