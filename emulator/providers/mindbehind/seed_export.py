"""What Record writes of Mindbehind's state as a seed part, and what it leaves out."""

from __future__ import annotations

from ...web.spec import ExportedFields, SeedExporter
from .models import Company, MindbehindState

STATE_FIELDS = ExportedFields(MindbehindState, exported=frozenset({"companies"}), left_out=frozenset())
COMPANY_FIELDS = ExportedFields(
    Company,
    exported=frozenset({"id", "channels", "clients"}),
    left_out=frozenset({"tokens", "sessions", "codes", "messages"}),  # run-time state, not seed
)


def _seed(state: MindbehindState) -> dict | None:
    """The companies with their channels and clients."""
    companies = []
    for _, company in sorted(state.companies.items()):
        part = COMPANY_FIELDS.dump(company)
        if "clients" in part:
            part["clients"] = list(part["clients"].values())
        companies.append(part)
    return {"companies": companies} if companies else None


SEED_EXPORTER = SeedExporter(
    _seed, (STATE_FIELDS, COMPANY_FIELDS), "companies", "channels", ("company", "channel"), (12, 12)
)
