"""What Record writes of Sunshine's state as a seed part, and what it leaves out."""

from __future__ import annotations

from ...web.spec import ExportedFields, SeedExporter
from .models import App, SunshineState

STATE_FIELDS = ExportedFields(
    SunshineState,
    exported=frozenset({"apps", "account_keys"}),
    left_out=frozenset({"oauth_clients", "oauth_codes"}),  # OAuth clients: not recorded yet; codes: run-time state
)
APP_FIELDS = ExportedFields(
    App,
    exported=frozenset(
        {
            *(
                "id",
                "displayName",
                "subdomain",
                "settings",
                "metadata",
                "keys",
                "integrations",
                "limits",
                "switchboards",
            ),
            # recorded since they exist, though made at run time: sessions, attachments and OAuth grants
            *("sdk_sessions", "attachments", "oauth_tokens", "oauth_clients", "auth_codes"),
        }
    ),
    left_out=frozenset({"users", "conversations"}),  # run-time state, not seed
)


def _seed(state: SunshineState) -> dict | None:
    """The apps with their keys, integrations and limits, and the account keys. Key ids stay literal:
    recorded requests carry them in their credentials."""
    apps = [APP_FIELDS.dump(app) for _, app in sorted(state.apps.items())]
    if not apps:
        return None
    keys = [key.model_dump(mode="json", exclude_defaults=True) for key in state.account_keys]
    return {"apps": apps, **({"account_keys": keys} if keys else {})}


SEED_EXPORTER = SeedExporter(
    _seed, (STATE_FIELDS, APP_FIELDS), "apps", "integrations", ("app", "integration"), (24, 24)
)
