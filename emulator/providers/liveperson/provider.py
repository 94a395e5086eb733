"""How the emulator mounts LivePerson: its routes, its tenants, its seed, its hosts and its banner."""

from flask import Response, request

from ...core.store import StateType
from ..spec import Host, ProviderSpec
from . import (
    agent_ws,
    app_installations,
    brand_routes,
    connector_api,
    consumer_ws,
    files,
    history,
    routes,
    sentinel_routes,
    webhooks,  # noqa: F401  (listens to every account's changes)
)
from .banner import BANNER
from .errors import http_error
from .identity import KEY_SLOTS, SELECTOR_KEYS, selector_subjects
from .models import LivePersonSeed, LivePersonState, brand_lookup_key
from .routes import PROVIDER, blueprint
from .seed_export import SEED_EXPORTER
from .views import conversation_views

ACCOUNT_VARIABLE, BRAND_VARIABLE = "account_id", "brand_id"  # every LivePerson path names its tenant by one of them


def _tenants_of_request() -> list[str]:
    """The account in the path, or the lookup key of the brand in the path."""
    args = request.view_args or {}
    if args.get(ACCOUNT_VARIABLE):
        return [args[ACCOUNT_VARIABLE]]
    return [brand_lookup_key(args[BRAND_VARIABLE])] if args.get(BRAND_VARIABLE) else []


def _http_error(status: int, message: str) -> Response:
    """Routing, size and injected errors, in the envelope of the API the path belongs to."""
    if connector_api.is_connector_path(request.path):
        return connector_api.routing_error(status, message)
    return http_error(status, message)


SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    route_modules=(routes, sentinel_routes, agent_ws, brand_routes, connector_api, consumer_ws, app_installations, files, history),
    tenants_of_request=_tenants_of_request,
    tenant_variables=(ACCOUNT_VARIABLE, BRAND_VARIABLE),
    path_prefixes=("/api/account/", "/csdr/", "/sentinel/", "/ws_api/", brand_routes.PREFIX, files.STORAGE_PREFIX, history.PREFIX),
    http_error=_http_error,
    state_type=StateType(PROVIDER, LivePersonState, LivePersonState.restore, KEY_SLOTS),
    seed_model=LivePersonSeed,
    seed_exporter=SEED_EXPORTER,
    hosts=(
        Host(r"(?:[a-z0-9\-]+\.)*liveperson\.net", "*.liveperson.net"),  # and the apex
        Host(r"accdn\.lpsnmedia\.net", "accdn.lpsnmedia.net"),
    ),
    banner=BANNER,
    credential_headers=("Authorization", "Cookie"),  # bearers and the Login Service's session cookie
    tenant_key="account",
    selector_keys=SELECTOR_KEYS,
    token_subjects=selector_subjects,
    conversations=conversation_views,
)
