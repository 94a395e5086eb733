"""LivePerson's HTTP kit: the blueprint every route module registers on, the decorators that register an
operation (HTTP or WebSocket), how a request names its tenant, body parsing and the error handlers.

A route module parses, calls the model and serialises: `@operation("POST", "/api/account/<account_id>/...")`,
`find_account(account_id)`, `json_object_body()`; it is listed in `ROUTE_MODULES` of provider.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request

from ...web import LazySock, MalformedJson, current_namespace, read_json_body
from .brand_idp import BrandError
from .errors import LivePersonError
from .models import Account, Brand, LivePersonState, brand_lookup_key

PROVIDER = "liveperson"
ACCOUNT_ARG = "account_id"  # the URL variable of every account route: it finds the account's namespace
BRAND_ARG = "brand_id"  # the URL variable of every brand route (the brand's authorization server)

blueprint = Blueprint(PROVIDER, __name__)
_sock = LazySock()


def _check_tenant_named(rule: str) -> None:
    """A rule names its tenant as one of the variables `tenants_of_request` reads, or it is refused at import."""
    if f"<{ACCOUNT_ARG}>" not in rule and f"<{BRAND_ARG}>" not in rule:
        raise ValueError(f"{rule}: a LivePerson route names its tenant as <{ACCOUNT_ARG}> or <{BRAND_ARG}>")


def operation(methods: str | tuple[str, ...], rule: str) -> Callable[[Callable], Callable]:
    """Register the decorated view for `rule` and `methods` (one, or a tuple) on the blueprint."""
    _check_tenant_named(rule)
    return blueprint.route(rule, methods=[methods] if isinstance(methods, str) else list(methods))


def socket_operation(rule: str, before: Callable[[], None] | None = None) -> Callable[[Callable], Callable]:
    """Register the decorated WebSocket handler `(ws, **view_args)` for `rule` on the blueprint; `before` may
    refuse the request ahead of the upgrade."""
    _check_tenant_named(rule)
    return _sock.route(rule, bp=blueprint, before=before)


def tenants_of_request() -> list[str]:
    """The account in the path, or the lookup key of the brand in the path."""
    args = request.view_args or {}
    if args.get(ACCOUNT_ARG):
        return [args[ACCOUNT_ARG]]
    return [brand_lookup_key(args[BRAND_ARG])] if args.get(BRAND_ARG) else []


def find_account(account_id: str) -> Account:
    """The account of the request's namespace; an unknown one is 401 "invalid site"."""
    state: LivePersonState = current_namespace().state(PROVIDER)
    account = state.accounts.get(account_id)
    if account is None:
        raise LivePersonError(401, "invalid site", "unknown_account")  # [C] Domain API 401 "invalid site"
    return account


def find_brand(brand_id: str) -> Brand:
    state: LivePersonState = current_namespace().state(PROVIDER)
    brand = state.brands.get(brand_id)
    if brand is None:
        raise BrandError("not_found", "unknown_brand", status=404)  # [I]
    return brand


def json_object_body() -> dict:
    """The body as a JSON object (`{}` when empty)."""
    body = read_json_body(empty={})
    if not isinstance(body, dict):
        raise LivePersonError(400, "request body must be a JSON object", "body_not_object")
    return body


def raw_authorization() -> str | None:
    """The AppJWT of `Authorization`: raw as documented; [I] a `Bearer ` prefix is tolerated."""
    value = request.headers.get("Authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


@blueprint.errorhandler(LivePersonError)
def _answer_error(error: LivePersonError) -> Response:
    return error.response()


@blueprint.errorhandler(BrandError)
def _answer_brand_error(error: BrandError) -> Response:
    return error.response()


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(_: MalformedJson) -> Response:
    return _answer_error(LivePersonError(400, "request body is not valid JSON", "malformed_json"))
