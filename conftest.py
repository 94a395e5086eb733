"""Repository-wide pytest set-up: pytester for the plugin's own tests, and hypothesis profiles."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ("pytester",)

PROFILE_VARIABLE = "EMULATOR_HYPOTHESIS_PROFILE"
COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}

# dev: local runs explore new examples and replay failures kept in .hypothesis/
settings.register_profile("dev", max_examples=75, **COMMON)
# ci: the same examples every run (derandomize implies no database), so a red build is the code's fault
settings.register_profile("ci", max_examples=75, derandomize=True, **COMMON)
# nightly: a longer random exploration; tests that pin their own max_examples keep it
settings.register_profile("nightly", max_examples=1000, **COMMON)

settings.load_profile(os.environ.get(PROFILE_VARIABLE) or ("ci" if os.environ.get("CI") == "true" else "dev"))
