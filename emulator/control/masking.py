"""Secrets out of journal entries before the control API shows them to the dashboard: the one place that masks.

Credentials (Authorization, cookies, passwords, client secrets, API tokens) become `••••`; every JWT, and
every secret value the namespace issued as a token, becomes `«token <fingerprint prefix>»`, and its
fingerprint is collected so a request links to the tokens it used or issued.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..core.lifecycle import fingerprint

MASK = "••••"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "apitoken"})
_SCHEMED_HEADERS = frozenset({"authorization", "proxy-authorization"})  # `<scheme> <credentials>`: the scheme stays
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,19}")
# keys whose string values are credentials: passwords, secrets, tokens of any kind, API and app keys
_SECRET_KEY = re.compile(r"(?i).*(pass(word|wd)?|secret|token|api_?key|app_?key|jwt|assertion|code_verifier)$")
_FORM = re.compile(r"[^=&\s]+=[^&\s]*(&[^=&\s]+=[^&\s]*)*")


@dataclass
class Masker:
    """Masks the texts of one entry; `known(fingerprint)` tells the namespace's own tokens apart."""

    known: Callable[[str], bool]
    tokens: list[str] = field(default_factory=list)  # fingerprints of the namespace's tokens met, in order

    def token(self, value: str) -> str | None:
        """The marker of a token of the namespace (remembered), else None."""
        key = fingerprint(value)
        if not self.known(key):
            return None
        if key not in self.tokens:
            self.tokens.append(key)
        return f"«token {key[:12]}»"

    def secret(self, value: str) -> str:
        return self.token(value) or (f"«JWT {fingerprint(value)[:12]}»" if _JWT.fullmatch(value) else MASK)

    def text(self, text: str) -> str:
        """Any JWT inside free text replaced by its marker."""
        return _JWT.sub(lambda match: self.secret(match.group(0)), text)

    def header(self, name: str, value: str) -> str:
        lowered = name.lower()
        if lowered not in _SECRET_HEADERS:
            return self.text(value)
        scheme, _, credentials = value.partition(" ")
        if lowered not in _SCHEMED_HEADERS or not credentials or not _SCHEME.fullmatch(scheme):
            return self.secret(value.strip())
        if scheme.lower() == "basic":
            return f"{scheme} {_basic_user(credentials)}:{MASK}"
        return f"{scheme} {self.secret(credentials.strip())}"

    def headers(self, headers: dict) -> dict:
        return {name: self.header(name, value) for name, value in headers.items()}

    def value(self, key: str, value: Any) -> Any:
        """A JSON value with its secrets masked (a copy)."""
        if isinstance(value, dict):
            return {k: self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(key, item) for item in value]
        if isinstance(value, str):
            return self.secret(value) if value and _SECRET_KEY.fullmatch(key) else self.text(value)
        return value

    def body(self, body: str) -> str:
        """A JSON body pretty-printed, a form body pair by pair, any other text with its JWTs masked."""
        if not body:
            return body
        try:
            return json.dumps(self.value("", json.loads(body)), indent=2, ensure_ascii=False)
        except ValueError:
            pass
        if _FORM.fullmatch(body.strip()):
            return self.query(body.strip())
        return self.text(body)

    def query(self, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        return "&".join(f"{key}={self.value(key, value)}" for key, value in pairs)


def _basic_user(credentials: str) -> str:
    """The user (a key id, not a secret) of Basic credentials, or the mask if they do not decode."""
    try:
        user, colon, _ = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return MASK
    return user if colon else MASK


def masked_delivery(delivery: dict) -> dict:
    """An outgoing webhook delivery (`Delivery.to_dict()`) with its headers (a webhook's secret) and payload masked."""
    masker = Masker(known=lambda key: False)
    return {
        **delivery,
        "headers": masker.headers(delivery["headers"]),
        "payload": masker.value("", delivery["payload"]),
    }


def masked_entry(entry: dict, known: Callable[[str], bool]) -> dict:
    """A journal entry (`JournalEntry.to_dict()`) as the dashboard may see it, with the tokens it `used`
    (request side) and `issued` (answer side), by fingerprint."""
    asked = Masker(known)
    request_part = {
        "query": asked.query(entry["query"]),
        "request_headers": asked.headers(entry["request_headers"]),
        "request_body": asked.body(entry["request_body"]),
    }
    answered = Masker(known)
    response_part = {
        "response_headers": answered.headers(entry.get("response_headers", {})),
        "response_body": answered.body(entry["response_body"]),
    }
    issued = [key for key in answered.tokens if key not in asked.tokens]
    return {**entry, **request_part, **response_part, "tokens": {"used": asked.tokens, "issued": issued}}
