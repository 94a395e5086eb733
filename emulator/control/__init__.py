"""The /__emulator control blueprint."""
