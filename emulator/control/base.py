"""What every control route shares: the blueprint, its error shape, namespace and body parsing."""

from __future__ import annotations

from typing import Any, Literal, overload

from flask import Blueprint, Response, current_app, request

from ..core.keys import same_secret
from ..core.store import DEFAULT_NAMESPACE, check_namespace_name
from ..web import MalformedJson, json_response, read_json_body, runtime
from .guesses import GuessCounter

CONTROL_PREFIX = "/__emulator"
ALL_NAMESPACES = "*"
TOKEN_HEADER = "X-Emulator-Token"
# container healthchecks carry no token; the dashboard's page and assets hold no state (the page asks for
# the token and sends it on each control call it makes)
OPEN_ENDPOINTS = frozenset({"control.health", "control.dashboard", "control.dashboard_asset"})
GUESSES_KEY = "control.guesses"  # app extension: the GuessCounter of failed control tokens
blueprint = Blueprint("control", __name__, url_prefix=CONTROL_PREFIX)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def control_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status)


def _presented_token() -> str | None:
    """The token of the call: the X-Emulator-Token header, else `Authorization: Bearer <token>`."""
    header = request.headers.get(TOKEN_HEADER)
    if header is not None:
        return header
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def require_control_token() -> Response | None:
    """With `EmulatorConfig.control_token` set, a call to any route under CONTROL_PREFIX without it is
    refused (401) before it acts: the control API and the emulator-defined provider hooks (Mindbehind's),
    which no real provider exposes. Health stays open. Failed guesses are counted (guesses.py): past
    their allowance, an address waits (429) before it may try again."""
    expected = runtime().config.control_token
    path = request.path
    if (
        not expected
        or not (path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"))
        or request.endpoint in OPEN_ENDPOINTS
    ):
        return None
    guesses: GuessCounter = current_app.extensions.setdefault(GUESSES_KEY, GuessCounter())
    address = request.remote_addr or ""
    wait = guesses.wait_left(address)
    if wait:
        refusal = control_error(
            429, "too_many_attempts", f"too many wrong control tokens from this address: retry in {wait} s"
        )
        refusal.headers["Retry-After"] = str(wait)
        return refusal
    presented = _presented_token()
    if presented is not None and same_secret(presented, expected):
        guesses.succeeded(address)
        return None
    if presented is not None:
        guesses.failed(address)
    refusal = control_error(
        401, "unauthorized", f"this emulator's control API needs its token in the {TOKEN_HEADER} header"
    )
    refusal.headers["WWW-Authenticate"] = 'Bearer realm="messaging-auth-emulator control"'
    return refusal


@blueprint.errorhandler(ControlError)
def _answer_control_error(error: ControlError) -> Response:
    return control_error(error.status, error.code, error.message, error.field)


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(error: MalformedJson) -> Response:
    return control_error(400, "malformed_json", f"request body is not valid JSON: {error}")


@overload
def namespace_arg(allow_all: Literal[False] = False) -> str: ...
@overload
def namespace_arg(allow_all: bool) -> str | None: ...
def namespace_arg(allow_all: bool = False) -> str | None:
    """The `?namespace=` of the call (default `default`); None stands for every namespace."""
    name = request.args.get("namespace", DEFAULT_NAMESPACE)
    if name == ALL_NAMESPACES:
        if not allow_all:
            raise ControlError(400, "invalid_namespace", "this call acts on one namespace, not '*'", "namespace")
        return None
    try:
        return check_namespace_name(name)
    except ValueError as exc:
        raise ControlError(400, "invalid_namespace", str(exc), "namespace") from None


def json_object() -> dict:
    body = read_json_body(empty={})
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_body", "expected a JSON object")
    return body
