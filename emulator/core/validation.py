"""Turning a pydantic ValidationError into one message that names the bad field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError


def field_path(location: tuple) -> str:
    """`("liveperson", "accounts", 0, "id")` -> `liveperson.accounts[0].id`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def check_filed_by_id(items: Mapping[str, Any], id_of: Callable[[Any], str], what: str) -> None:
    """A state keyed by id must hold each item under its own id (an import could say otherwise)."""
    for key, item in items.items():
        if key != id_of(item):
            raise ValueError(f"{what} {id_of(item)!r} is filed under {key!r}")


def keyed_by_id(items: Any, id_field: str) -> Any:
    """A seed lists items; a state keys them by id: a list becomes `{item[id_field]: item}` (before validation)."""
    if isinstance(items, list):
        return {item.get(id_field) if isinstance(item, dict) else None: item for item in items}
    return items


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, message) of the first problem pydantic found."""
    first = error.errors(include_url=False)[0]
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    return field_path(first["loc"]), message
