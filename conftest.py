"""Repository-wide pytest set-up: pytester for the plugin's own tests, and hypothesis profiles."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ("pytester",)

settings.register_profile(
    "emulator",
    deadline=None,
    max_examples=75,
    derandomize=os.environ.get("CI") == "true",  # CI replays the same examples; local runs explore
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("emulator")
