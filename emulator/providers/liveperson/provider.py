"""How the app mounts LivePerson."""

from flask import Response, request

from ...core.store import StateType
from ...web import ProviderSpec
from . import (
    agent_ws,  # noqa: F401  (registers the agent WebSocket on the blueprint)
    app_installations,  # noqa: F401  (registers the App Installation API)
    brand_routes,  # registers the brand authorization server's routes
    connector_api,  # registers the Connector API routes
    consumer_ws,  # noqa: F401  (registers the consumer WebSocket)
    files,  # noqa: F401  (registers the file storage)
    history,  # registers the Messaging Interactions API
    sentinel_routes,  # noqa: F401  (registers the Sentinel and ConsumerJWS routes on the blueprint)
    webhooks,  # noqa: F401  (listens to every account's changes)
)
from .errors import http_error
from .identity import KEY_SLOTS, SELECTOR_KEYS, selector_subjects
from .models import LivePersonState
from .routes import PROVIDER, blueprint
from .views import conversation_views


def _http_error(status: int, message: str) -> Response:
    """Routing, size and injected errors, in the envelope of the API the path belongs to."""
    if connector_api.is_connector_path(request.path):
        return connector_api.routing_error(status, message)
    return http_error(status, message)


SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenants_of_request=brand_routes.tenants_of_request,
    path_prefixes=("/api/account/", "/csdr/", "/sentinel/", "/ws_api/", brand_routes.PREFIX, files.STORAGE_PREFIX, history.PREFIX),
    http_error=_http_error,
    state_type=StateType(PROVIDER, LivePersonState, LivePersonState.restore, KEY_SLOTS),
    tenant_key="account",
    selector_keys=SELECTOR_KEYS,
    token_subjects=selector_subjects,
    conversations=conversation_views,
)
