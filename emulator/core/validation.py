"""Turning a pydantic ValidationError into one message that names the bad field."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(location: tuple) -> str:
    """`("liveperson", "accounts", 0, "id")` -> `liveperson.accounts[0].id`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def first_error(error: ValidationError) -> tuple[str, str]:
    """(field, message) of the first problem pydantic found."""
    first = error.errors(include_url=False)[0]
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    return field_path(first["loc"]), message
