"""Mindbehind's HTTP kit: the blueprint its route modules register on, the operation decorator, how a request
names its tenant, body parsing and the error handlers.

A route module parses, calls the model (webchat.py) and serialises: `@operation("POST", "/external/...")`,
`object_body()`, `state_and_now()`; it is listed in `ROUTE_MODULES` of provider.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request

from ...web import MalformedJson, current_namespace, read_json_body
from .errors import MindbehindError
from .models import MindbehindState, token_key
from .webchat import PROVIDER, state_of

HOOKS = "/__emulator/mindbehind"  # emulator-defined: the widget's side and the bot's side of a test
CHANNEL_ARG = "channel_id"  # the URL variable of a route that names its channel in the path

blueprint = Blueprint(PROVIDER, __name__)


def operation(method: str, rule: str) -> Callable[[Callable], Callable]:
    """Register the decorated view for `rule` and `method` on the blueprint."""
    return blueprint.route(rule, methods=[method])


def tenants_of_request() -> list[str]:
    """Mindbehind names its tenant in the query, the body or the apiToken header, not the path."""
    try:
        body = read_json_body(empty=None)  # whatever the Content-Type: the routes read it the same way
    except MalformedJson:
        body = None
    candidates = [
        (request.view_args or {}).get(CHANNEL_ARG),
        request.args.get("channelID"),
        request.args.get("companyID"),
        body.get("channelID") if isinstance(body, dict) else None,
    ]
    api_token = request.headers.get("apiToken")
    keys = [c for c in candidates if isinstance(c, str) and c]
    return keys + ([token_key(api_token)] if api_token else [])


def json_body() -> object:
    """The body as JSON, whatever its Content-Type (None when empty)."""
    return read_json_body(empty=None)


def object_body() -> dict:
    """The body as a JSON object."""
    body = json_body()
    if not isinstance(body, dict):
        raise MindbehindError(400, "the body is a JSON object", "body_not_object")
    return body


def state_and_now() -> tuple[MindbehindState, float]:
    """The request's namespace's Mindbehind state and the time on its clock."""
    namespace = current_namespace()
    return state_of(namespace), namespace.clock.now()


@blueprint.errorhandler(MindbehindError)
def _answer_error(error: MindbehindError) -> Response:
    return error.response()


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(_: MalformedJson) -> Response:
    return MindbehindError(400, "the body is not valid JSON", "malformed_json").response()
