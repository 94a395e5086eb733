"""How the app mounts LivePerson."""

from ...core.store import StateType
from ...web import ProviderSpec
from .errors import http_error
from .identity import KEY_SLOTS
from .models import LivePersonState
from .routes import PROVIDER, blueprint

SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenant_arg="account_id",
    path_prefixes=("/api/account/", "/csdr/", "/sentinel/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, LivePersonState, LivePersonState.restore, KEY_SLOTS),
)
