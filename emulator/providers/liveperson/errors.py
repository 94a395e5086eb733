"""LivePerson's own error shapes (reference: liveperson.md sections 3.1 and 5.4)."""

from __future__ import annotations

from datetime import datetime, timezone
from http import HTTPStatus

from flask import Response

from ...web import ProviderError, current_namespace

CUSTOMER_JWT_NOT_VALID = "9007"  # [C] LivePerson staff: 9007 = CUSTOMER_JWT_NOT_VALID
UNAUTHORIZED_INTERNAL_CODE = 10  # [C] the login-family envelope's code for 401


class LivePersonError(ProviderError):
    """An error LivePerson answers with its `{"error": {time, message, internalCode, responseStatus}}` envelope."""

    def body(self) -> dict:
        now = current_namespace().clock.now()  # the namespace's clock stamps the error
        # [?] internalCode is public only for 401 (10); other statuses carry the HTTP status as their code
        internal_code = UNAUTHORIZED_INTERNAL_CODE if self.status == 401 else self.status
        return {
            "error": {
                "time": datetime.fromtimestamp(now, tz=timezone.utc).isoformat(timespec="milliseconds"),
                "message": self.message,
                "internalCode": internal_code,
                "responseStatus": _status_name(self.status),
            }
        }


def _status_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:  # a status only a test would ask for (e.g. 499)
        return f"HTTP_{status}"


class InvalidCustomerJwt(LivePersonError):
    """The IDP's answer to a token it cannot accept: `{"internalErrorCode": "9007"}` (section 5.4)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, "customer JWT is not valid", reason)

    def body(self) -> dict:
        return {"internalErrorCode": CUSTOMER_JWT_NOT_VALID}


def http_error(status: int, message: str) -> Response:
    """Routing errors (unknown path, wrong method) under LivePerson's paths, in its envelope."""
    return LivePersonError(status, message).response()
