"""messaging-auth-emulator: a stateful emulator of messaging providers' auth and messaging APIs."""

__version__ = "0.1.0"
