"""The provider hosts the emulator answers for, as URL and host-name patterns, from the providers' declarations."""

from __future__ import annotations

import re

from ..providers import PROVIDERS

# A provider URL: the host, then (for a host the provider shares, such as *.zendesk.com) its path there, e.g. /sc.
# Scheme-agnostic, userinfo and port allowed.
_SCHEME_AUTHORITY = r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?"
_PORT = r"(?::\d+)?"
_END = r"(?:[/?#]|$)"
HOSTS = tuple(host for spec in PROVIDERS for host in spec.hosts)
PROVIDER_URL = re.compile(
    r"\A"
    + _SCHEME_AUTHORITY
    + r"(?:"
    + "|".join(f"(?:{host.pattern}){_PORT}{re.escape(host.path)}{_END}" for host in HOSTS)
    + r")",
    re.IGNORECASE,
)
# responses answers registered callbacks first and consults passthru prefixes only for a request none of
# them matched: this pattern (any URL that is not a provider URL) keeps an unmatched provider request, say
# an unusual method, from ever reaching the network; responses refuses it with a ConnectionError instead.
NOT_PROVIDER_URL = re.compile(r"(?!" + PROVIDER_URL.pattern + r")", re.IGNORECASE)
# A host name that may serve provider paths. [I] on a shared host (*.zendesk.com) only the provider's path is
# its, yet a client the interception does not cover is refused every path there: a host name carries no path.
PROVIDER_HOST = re.compile(r"(?:" + "|".join(host.pattern for host in HOSTS) + r")\.?", re.IGNORECASE)


PROVIDER_HOST_NAMES = tuple(host.name for host in HOSTS)  # for people


def is_provider_url(url: str) -> bool:
    return PROVIDER_URL.match(url) is not None


def is_provider_host(host: str) -> bool:
    return PROVIDER_HOST.fullmatch(host) is not None
