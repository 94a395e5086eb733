"""The provider hosts the emulator answers for, as URL and host-name patterns."""

from __future__ import annotations

import re

# A provider URL: the host, then (for *.zendesk.com) the path under /sc. Scheme-agnostic, userinfo and port allowed.
_SCHEME_AUTHORITY = r"[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?"
_PORT = r"(?::\d+)?"
_END = r"(?:[/?#]|$)"
PROVIDER_HOSTS = (
    r"(?:[a-z0-9\-]+\.)*liveperson\.net",  # *.liveperson.net (and the apex)
    r"accdn\.lpsnmedia\.net",
    r"api(?:\.[a-z0-9\-]+)?\.smooch\.io",  # api.smooch.io, api.eu-1.smooch.io
    r"app\.mindbehind\.com",
)
_ZENDESK_HOST = r"(?:[a-z0-9\-]+\.)+zendesk\.com"
_ZENDESK_SC = _ZENDESK_HOST + _PORT + r"/sc" + _END
PROVIDER_URL = re.compile(
    r"\A" + _SCHEME_AUTHORITY + r"(?:(?:" + "|".join(PROVIDER_HOSTS) + r")" + _PORT + _END + r"|" + _ZENDESK_SC + r")",
    re.IGNORECASE,
)
# responses answers registered callbacks first and consults passthru prefixes only for a request none of
# them matched: this pattern (any URL that is not a provider URL) keeps an unmatched provider request, say
# an unusual method, from ever reaching the network; responses refuses it with a ConnectionError instead.
NOT_PROVIDER_URL = re.compile(r"(?!" + PROVIDER_URL.pattern + r")", re.IGNORECASE)
# A host name that may serve provider paths. [I] for *.zendesk.com only /sc is the provider's, yet a client
# the interception does not cover is refused every path there: a host name carries no path.
PROVIDER_HOST = re.compile(r"(?:" + "|".join((*PROVIDER_HOSTS, _ZENDESK_HOST)) + r")\.?", re.IGNORECASE)


PROVIDER_HOST_NAMES = ("*.liveperson.net", "accdn.lpsnmedia.net", "api[.*].smooch.io", "*.zendesk.com/sc", "app.mindbehind.com")  # for people


def is_provider_url(url: str) -> bool:
    return PROVIDER_URL.match(url) is not None


def is_provider_host(host: str) -> bool:
    return PROVIDER_HOST.fullmatch(host) is not None
