"""The emulated providers; each package imports `core` and `web`, never another provider."""

from ..web import ProviderSpec
from .liveperson.provider import SPEC as LIVEPERSON
from .mindbehind.provider import SPEC as MINDBEHIND
from .sunshine.provider import SPEC as SUNSHINE

PROVIDERS: tuple[ProviderSpec, ...] = (LIVEPERSON, SUNSHINE, MINDBEHIND)
