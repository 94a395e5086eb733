"""How the app mounts Sunshine Conversations."""

from ...core.store import StateType
from ...web import ProviderSpec
from .auth import selector_subjects
from .errors import V1_PREFIXES, http_error
from .models import PROVIDER, SunshineState
from .routes import BODY_LIMIT, PREFIXES, blueprint, tenants_of_request
from .views import conversation_views
from . import sdk_routes  # noqa: F401  (registers the SDK API on the blueprint)
from . import v1  # noqa: F401  (the v1.1 routes register on the blueprint)

SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenants_of_request=tenants_of_request,
    path_prefixes=tuple(f"{prefix}/" for prefix in PREFIXES) + V1_PREFIXES,
    http_error=http_error,
    state_type=StateType(PROVIDER, SunshineState, SunshineState.restore),
    tenant_key="app",
    selector_keys=frozenset({"app", "key"}),
    token_subjects=selector_subjects,
    conversations=conversation_views,
    raw_segments=True,
    max_body_bytes=BODY_LIMIT,  # [C] 100 kB of JSON
)
