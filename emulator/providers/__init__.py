"""The emulated providers, and the registry of them: each package imports `core` and `web`, never another
provider, and declares itself in its `provider.py` (a `ProviderSpec`, from `web.spec`). The rest of the
emulator knows a provider only through `PROVIDERS`: adding one is its folder and one line here."""

from ..web.spec import ProviderSpec
from .liveperson.provider import SPEC as LIVEPERSON
from .mindbehind.provider import SPEC as MINDBEHIND
from .sunshine.provider import SPEC as SUNSHINE

PROVIDERS: tuple[ProviderSpec, ...] = (LIVEPERSON, SUNSHINE, MINDBEHIND)
