"""The emulated providers, and the registry of them: each package imports `core`, `web` and `providers.spec`,
never another provider, and declares itself in its `provider.py` (a `ProviderSpec`). The rest of the
emulator knows a provider only through `PROVIDERS`: adding one is its folder and one line here."""

from .liveperson.provider import SPEC as LIVEPERSON
from .mindbehind.provider import SPEC as MINDBEHIND
from .spec import ProviderSpec
from .sunshine.provider import SPEC as SUNSHINE

PROVIDERS: tuple[ProviderSpec, ...] = (LIVEPERSON, SUNSHINE, MINDBEHIND)
