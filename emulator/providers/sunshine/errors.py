"""Sunshine's error envelopes: v2 `{"errors": [{"code", "title"}]}` (reference 1.4 and 2.2); the SDK API
and v1.1 `{"error": {"code", "description"}}` (reference 1.4 and 7)."""

from __future__ import annotations

from flask import Response, request

from ...web import ProviderError

# [I] codes of routing and protocol errors; the spec documents only the codes used below by the routes
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class SunshineError(ProviderError):
    def __init__(self, status: int, code: str, title: str, reason: str | None = None) -> None:
        super().__init__(status, title, reason or code)
        self.code = code

    def body(self) -> dict:
        return {"errors": [{"code": self.code, "title": self.message}]}


class V1Error(SunshineError):
    """The v1 envelope, for the SDK API and v1.1."""

    def body(self) -> dict:
        return {"error": {"code": self.code, "description": self.message}}


def as_v1(error: SunshineError) -> V1Error:
    """A refusal of the shared rules in the v1 envelope (SDK API, v1.1): the same status, code and wording."""
    if isinstance(error, V1Error):
        return error
    return V1Error(error.status, error.code, error.message, error.reason)


V1_PREFIXES = (
    "/v1/",
    "/v1.1/",
    "/sdk/",
    "/sc/sdk/",
)  # [I] the SDK API answers in the v1 envelope (reference, Open questions)


def bad_request(title: str, reason: str | None = None) -> SunshineError:
    return SunshineError(400, "bad_request", title, reason)


def not_found(code: str, title: str) -> SunshineError:
    return SunshineError(404, code, title)


def user_not_found() -> SunshineError:
    return not_found("user_not_found", "User not found")


def conversation_not_found() -> SunshineError:
    return not_found("conversation_not_found", "Conversation not found")


def resource_not_found() -> SunshineError:
    return not_found("not_found", "Resource not found")


def forbidden(reason: str) -> SunshineError:
    return SunshineError(403, "forbidden", "Forbidden", reason)


def invalid_auth(title: str, reason: str) -> SunshineError:
    # [?] the real titles of these 401s are not published (reference, Open questions)
    return SunshineError(401, "invalid_auth", title, reason)


def http_error(status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method) under Sunshine's paths, in the envelope of the path."""
    kind = V1Error if request.path.startswith(V1_PREFIXES) else SunshineError
    return kind(
        status, _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request"), message
    ).response()
