"""What every control route shares: the blueprint, its error shape, namespace and body parsing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..core.keys import same_secret
from ..core.store import DEFAULT_NAMESPACE, check_namespace_name
from ..web import MalformedJson, json_response, read_json_body, runtime

CONTROL_PREFIX = "/__emulator"
ALL_NAMESPACES = "*"
TOKEN_HEADER = "X-Emulator-Token"
OPEN_ENDPOINTS = frozenset({"control.health"})  # container healthchecks carry no token
DASHBOARD_ENDPOINT = "control.dashboard"
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
    """The token of the call: the X-Emulator-Token header, else `Authorization: Bearer <token>`; the
    read-only dashboard also takes `?token=`, since a browser sends no header of its own."""
    header = request.headers.get(TOKEN_HEADER)
    if header is not None:
        return header
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return request.args.get("token") if request.endpoint == DASHBOARD_ENDPOINT else None


@blueprint.before_request
def _require_control_token() -> Response | None:
    """With `EmulatorConfig.control_token` set, a control call without it is refused (401) before it acts.

    Only this blueprint's routes: the Mindbehind hooks under /__emulator/mindbehind/ are provider traffic.
    """
    expected = runtime().config.control_token
    if not expected or request.endpoint in OPEN_ENDPOINTS:
        return None
    presented = _presented_token()
    if presented is not None and same_secret(presented, expected):
        return None
    refusal = control_error(401, "unauthorized", f"this emulator's control API needs its token in the {TOKEN_HEADER} header")
    refusal.headers["WWW-Authenticate"] = 'Bearer realm="messaging-auth-emulator control"'
    return refusal


refuse_without_control_token = _require_control_token  # also guards the providers' emulator-only hooks


@blueprint.errorhandler(ControlError)
def _answer_control_error(error: ControlError) -> Response:
    return control_error(error.status, error.code, error.message, error.field)


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(error: MalformedJson) -> Response:
    return control_error(400, "malformed_json", f"request body is not valid JSON: {error}")


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


