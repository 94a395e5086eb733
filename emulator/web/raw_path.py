"""Percent-encoded slashes kept inside path segments, for providers whose ids may hold a `/`.

A WSGI server decodes `PATH_INFO`, so `/users/a%2Fb` arrives as `/users/a/b` and no route can tell the
slash of an externalId from a path separator. For the listed path prefixes, `PATH_INFO` is rebuilt from
the raw request URI with each segment decoded and then re-encoded for `/` and `%` only; the provider's
routes decode their variables once more (Sunshine's `url_value_preprocessor`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote_to_bytes, urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class WsgiApp(Protocol):
    """A WSGI application called as Flask's `wsgi_app` is (its arguments may be named)."""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]: ...


def _segment(raw: str) -> str:
    decoded = unquote_to_bytes(raw.encode("latin-1")).replace(b"%", b"%25").replace(b"/", b"%2F")
    return decoded.decode("latin-1")  # WSGI carries bytes as latin-1 text


def raw_path(environ: dict) -> str | None:
    """The path of the request as the client sent it, when the server tells (waitress, Werkzeug)."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not uri:
        return None
    path = urlsplit(uri).path if "://" in uri.split("?", 1)[0] else uri.split("?", 1)[0]
    return path or None


def keep_encoded_slashes(app: WsgiApp, prefixes: tuple[str, ...]) -> WsgiApp:
    def middleware(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if prefixes and environ.get("PATH_INFO", "").startswith(prefixes):
            raw = raw_path(environ)
            if (
                raw is not None and "%" in raw and raw.startswith(prefixes)
            ):  # without escapes, PATH_INFO is the raw path
                environ["PATH_INFO"] = "/".join(_segment(part) for part in raw.split("/"))
        return app(environ, start_response)

    return middleware
