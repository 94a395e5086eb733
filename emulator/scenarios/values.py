"""Scenario values: `${name}` variables, `${helper(args)}` calls, and value objects such as `{jwt: {...}}`."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..core.keys import sign_hs256

_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*?)\))?\s*\}")
_ARGUMENT = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|(-?[0-9]+)|([A-Za-z_][A-Za-z0-9_]*))\s*(?:,|$)""")


class ScenarioValueError(ValueError):
    """A value a scenario cannot compute: an unknown variable or helper, or bad helper arguments."""


def _b64(text: str) -> str:
    return base64.b64encode(str(text).encode()).decode()


def _length(n: object) -> int:
    if not isinstance(n, int) or not 1 <= n <= 256:
        raise ValueError(f"a length is a whole number from 1 to 256, not {n!r}")
    return n


def _random_digits(n: object = 8) -> str:
    length = _length(n)
    return str(secrets.randbelow(9 * 10 ** (length - 1)) + 10 ** (length - 1))


def _random_hex(n: object = 24) -> str:
    length = _length(n)
    return secrets.token_hex((length + 1) // 2)[:length]


HELPERS: dict[str, Callable[..., Any]] = {
    "uuid": lambda: str(uuid.uuid4()),
    "random_digits": _random_digits,
    "random_hex": _random_hex,
    "base64": _b64,
    "basic_auth": lambda user, password: "Basic " + _b64(f"{user}:{password}"),
    "jwt_claim": lambda token, claim: jwt.decode(str(token), options={"verify_signature": False})[claim],
}


def _arguments(text: str | None, variables: Mapping[str, Any]) -> list[Any]:
    if not text or not text.strip():
        return []
    values, position = [], 0
    while position < len(text):
        match = _ARGUMENT.match(text, position)
        if match is None or match.end() == position:
            raise ScenarioValueError(f"cannot read the arguments {text!r}")
        double, single, number, name = match.groups()
        if name is not None:
            values.append(_variable(name, variables))
        else:
            values.append(int(number) if number is not None else (double if double is not None else single))
        position = match.end()
    return values


def _variable(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise ScenarioValueError(f"unknown variable ${{{name}}} (known: {', '.join(sorted(variables)) or 'none'})")
    return variables[name]


def _resolve(match: re.Match[str], variables: Mapping[str, Any]) -> Any:
    name, arguments = match.group(1), match.group(2)
    if arguments is None and name not in HELPERS:
        return _variable(name, variables)
    helper = HELPERS.get(name)
    if helper is None:
        raise ScenarioValueError(f"unknown helper {name}() (known: {', '.join(sorted(HELPERS))})")
    try:
        return helper(*_arguments(arguments, variables))
    except (TypeError, ValueError, KeyError, jwt.PyJWTError) as exc:
        raise ScenarioValueError(f"{name}(): {exc}") from None


def interpolate(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every `${...}` replaced; a string that is one reference keeps the value's type."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole is not None:
            return _resolve(whole, variables)
        return _REFERENCE.sub(lambda m: str(_resolve(m, variables)), value)
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in VALUE_OBJECTS:
            kind, spec = next(iter(value.items()))
            return VALUE_OBJECTS[kind](interpolate(spec, variables))
        return {interpolate(key, variables): interpolate(item, variables) for key, item in value.items()}
    return value


def _jwt(spec: Any) -> str:
    """`{jwt: {alg, claims, headers, secret | private_key}}`: a JWT signed as a client would sign it.

    HS256 with a `secret` (a Sunshine app key's secret); RS256 with a PEM `private_key` (a brand's key).
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("claims"), dict):
        raise ScenarioValueError("jwt needs claims (a mapping) and a secret or private_key")
    algorithm = spec.get("alg", "HS256")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict):
        raise ScenarioValueError("jwt headers are a mapping")
    if algorithm == "HS256" and isinstance(spec.get("secret"), str):
        try:
            return sign_hs256(spec["claims"], spec["secret"], headers)
        except (TypeError, ValueError) as exc:
            raise ScenarioValueError(f"jwt: claims are not JSON ({exc})") from None
    if algorithm == "RS256" and isinstance(spec.get("private_key"), str):
        try:
            key = serialization.load_pem_private_key(spec["private_key"].encode(), password=None)
        except (TypeError, ValueError) as exc:  # TypeError: the key is password-protected
            raise ScenarioValueError(f"jwt: private_key is not a PEM private key ({exc})") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ScenarioValueError(
                f"jwt: RS256 signs with an RSA key; private_key is not an RSA private key ({type(key).__name__})"
            )
    else:
        raise ScenarioValueError("jwt signs HS256 with a secret or RS256 with a private_key")
    try:
        return jwt.encode(spec["claims"], key, algorithm=algorithm, headers=headers)
    except (TypeError, ValueError) as exc:
        raise ScenarioValueError(f"jwt: claims are not JSON ({exc})") from None


VALUE_OBJECTS: dict[str, Callable[[Any], Any]] = {"jwt": _jwt, "base64": _b64}
