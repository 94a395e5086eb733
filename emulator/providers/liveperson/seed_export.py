"""What Record writes of LivePerson's state as a seed part, and what it leaves out."""

from __future__ import annotations

from ...web.spec import ExportedFields, SeedExporter
from .models import Account, LivePersonState

STATE_FIELDS = ExportedFields(
    LivePersonState,
    exported=frozenset({"accounts"}),
    left_out=frozenset({"brands"}),  # not recorded yet: a recording that uses a brand needs it seeded again
)
ACCOUNT_FIELDS = ExportedFields(
    Account,
    exported=frozenset(
        {"id", "features", "sso_only", "settings", "connectors", "users", "apps", "apps_revision", "conversations"}
    ),
    left_out=frozenset({"consumers", "sessions", "last_logins", "files"}),  # run-time state, not seed
)


def _seed(state: LivePersonState) -> dict | None:
    """The accounts without their consumers, login sessions and shared files, defaults left out."""
    accounts = [ACCOUNT_FIELDS.dump(account) for _, account in sorted(state.accounts.items())]
    return {"accounts": accounts} if accounts else None


SEED_EXPORTER = SeedExporter(
    _seed, (STATE_FIELDS, ACCOUNT_FIELDS), "accounts", "connectors", ("account", "connector"), (8, 10)
)
