"""One seed schema and one configuration type for tests, the CLI and docker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .core.validation import first_error
from .providers import PROVIDERS


class SeedError(ValueError):
    """A seed that does not validate; `field` names the bad field, e.g. `liveperson.accounts[0].id`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class Seed(BaseModel):
    """Tenants to create, per provider: `parse_seed` validates them against the seed schema (`_SEED_SCHEMA`),
    which adds an optional part for each registered provider."""

    model_config = ConfigDict(extra="forbid")

    def parts(self) -> dict[str, Any]:
        """Provider name -> the seed part for it, for the providers this seed names."""
        return {name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None}


# the seed schema: an optional part per registered provider, under its name, in the registry's order
_SEED_PARTS: dict[str, Any] = {spec.name: (spec.seed_model | None, None) for spec in PROVIDERS}
_SEED_SCHEMA = create_model("Seed", __base__=Seed, __module__=__name__, __qualname__="_SEED_SCHEMA", **_SEED_PARTS)


def parse_seed(data: Any) -> Seed:
    """Validate seed data (already parsed); SeedError names the first bad field."""
    if data is None:
        return _SEED_SCHEMA()
    if not isinstance(data, dict):
        raise SeedError("", "a seed is a mapping with provider keys such as 'liveperson'")
    try:
        return _SEED_SCHEMA.model_validate(data)
    except ValidationError as exc:
        raise SeedError(*first_error(exc)) from None


def parse_seed_text(text: str | bytes) -> Seed:
    """Validate a seed written as YAML or JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's stack
            raise SeedError("", f"not valid YAML or JSON: {exc}") from None
    return parse_seed(data)


def load_seed_file(path: str | Path) -> Seed:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise SeedError("", f"cannot read seed file {path}: {exc.strerror}") from None
    try:
        return parse_seed_text(text)
    except SeedError as exc:
        raise SeedError(exc.field, f"{exc.message} (in {path})") from None


@dataclass(frozen=True)
class EmulatorConfig:
    """How one emulator instance behaves; the same type for the pytest plugin, the CLI and docker."""

    seed: Seed | None = None  # loaded into the default namespace at start
    public_host: str | None = None  # host[:port] the Domain API hands out; None: the request's own host
    journal_capacity: int = 10_000
    control_token: str | None = None  # when set, every /__emulator/ call must carry it (X-Emulator-Token)
    # [I] request bodies past these are refused with 413 before they are read: a provider's own limit
    # (`ProviderSpec.max_body_bytes`) wins under its paths; the control API takes whole state imports
    max_body_bytes: int = 4 * 1024 * 1024
    max_control_body_bytes: int = 64 * 1024 * 1024
