"""How the app mounts LivePerson."""

from ...core.store import StateType
from ...web import ProviderSpec, url_tenant
from .errors import http_error
from .identity import KEY_SLOTS, SELECTOR_KEYS, selector_subjects
from .models import LivePersonState
from .routes import PROVIDER, blueprint
from . import sentinel_routes  # noqa: F401  (registers the Sentinel and ConsumerJWS routes on the blueprint)
from . import agent_ws  # noqa: F401  (registers the agent WebSocket on the blueprint)
from . import brand_routes  # noqa: F401  (registers the brand authorization server's routes)
from . import connector_api  # noqa: F401  (registers the Connector API routes)
from . import consumer_ws  # noqa: F401  (registers the consumer WebSocket)

SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenants_of_request=url_tenant("account_id"),
    path_prefixes=("/api/account/", "/csdr/", "/sentinel/", "/ws_api/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, LivePersonState, LivePersonState.restore, KEY_SLOTS),
    tenant_key="account",
    selector_keys=SELECTOR_KEYS,
    token_subjects=selector_subjects,
)
