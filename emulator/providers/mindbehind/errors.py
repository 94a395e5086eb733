"""Mindbehind's answer shape: `{"success": false, "message": ...}` (reference, Open questions)."""

from __future__ import annotations

from flask import Response

from ...web import json_response

REASON_HEADER = "X-Emulator-Reason"  # emulator-only: why a request was refused


class MindbehindError(Exception):
    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or message

    def response(self) -> Response:
        return json_response({"success": False, "message": self.message}, self.status, headers={REASON_HEADER: self.reason})


def http_error(status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method) under Mindbehind's paths, in its shape."""
    return MindbehindError(status, message).response()
