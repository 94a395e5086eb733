"""Mindbehind's answer shape: `{"success": false, "message": ...}` (reference, Open questions)."""

from __future__ import annotations

from flask import Response

from ...web import ProviderError


class MindbehindError(ProviderError):
    def body(self) -> dict:
        return {"success": False, "message": self.message}


def http_error(status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method) under Mindbehind's paths, in its shape."""
    return MindbehindError(status, message).response()
