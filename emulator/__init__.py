"""messaging-auth-emulator: a stateful emulator of messaging providers' auth and messaging APIs."""

from pathlib import Path

__version__ = "0.1.0"
DEMO_SEED_PATH = Path(__file__).parent / "demo_seed.yaml"  # the seed `serve` starts with unless told otherwise
