"""The /__emulator control blueprint: one module per mechanism, one blueprint."""

from . import dashboard, faults, inspector, record, routes, tokens  # noqa: F401  (each registers its routes on the blueprint)
from .base import CONTROL_PREFIX, blueprint, control_error, require_control_token

__all__ = ["CONTROL_PREFIX", "blueprint", "control_error", "require_control_token"]
