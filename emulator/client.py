"""EmulatorClient: the Python mirror of the /__emulator control API, over HTTP or in-process."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

import requests

CONTROL = "/__emulator"


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
    ) -> Reply: ...


class HttpTransport:
    """Requests to an emulator server at `base_url`."""

    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()
        self._timeout = timeout

    def send(self, method, path, *, params=None, json=None, data=None, headers=None) -> Reply:
        response = self._session.request(
            method, self.base_url + path, params=params, json=json, data=data, headers=headers, timeout=self._timeout
        )
        return Reply(response.status_code, response.headers, response.content)


class AppTransport:
    """Requests to an in-process emulator app through Flask's test client: no socket, no thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._client = app.test_client()

    def send(self, method, path, *, params=None, json=None, data=None, headers=None) -> Reply:
        response = self._client.open(
            path, method=method, query_string=params, json=json, data=data, headers=dict(headers or {})
        )
        return Reply(response.status_code, response.headers, response.get_data())


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
    """Control of one namespace of an emulator: `EmulatorClient("http://localhost:8080")`."""

    def __init__(
        self, base_url: str | None = None, *, namespace: str = "default", transport: Transport | None = None
    ) -> None:
        if transport is None:
            if base_url is None:
                raise ValueError("give the emulator's base_url or a transport")
            transport = HttpTransport(base_url)
        self.transport = transport
        self.namespace = namespace

    def in_namespace(self, namespace: str) -> "EmulatorClient":
        return EmulatorClient(namespace=namespace, transport=self.transport)

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
        self, provider: str | None = None, method: str | None = None, path: str | None = None, limit: int | None = None
    ) -> list[dict]:
        """Requests this namespace received, oldest first; `path` is a glob (`*`, `**`)."""
        filters = {"provider": provider, "method": method, "path": path, "limit": limit}
        return self._call("GET", "/journal", params=filters)["entries"]

    def clear_journal(self) -> None:
        self._call("DELETE", "/journal")
