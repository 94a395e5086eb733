"""Scenario files in pytest: YAML files under the `emulator_scenarios` folders collected as tests (each run
in-process on a session app), and `emulator_run_scenario` / `@pytest.mark.emulator_scenario` inside Python tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..client import AppTransport
from .core import EmulatorHandle, unhandled_tracebacks
from .lazy import LazyName

# imported when a scenario first runs
create_app = LazyName("emulator.app", "create_app")
ScenarioError = LazyName("emulator.scenarios", "ScenarioError")
ScenarioRunner = LazyName("emulator.scenarios", "ScenarioRunner")
load_scenario = LazyName("emulator.scenarios", "load_scenario")
if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from ..scenarios import ScenarioResult

SCENARIO_MARKER = "emulator_scenario"
SCENARIO_FOLDERS = "emulator_scenarios"
_SESSION_APP = pytest.StashKey[Any]()


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioItem(pytest.Item):
    """Runs one scenario file in-process; a failure shows the steps, what was sent and what came back, and the
    traceback of any exception the emulator did not handle meanwhile (which fails the scenario too)."""

    def runtest(self) -> None:
        config = self.config
        if _SESSION_APP not in config.stash:
            config.stash[_SESSION_APP] = create_app()
        app = config.stash[_SESSION_APP]
        result = ScenarioRunner(AppTransport(app)).run(load_scenario(self.path))
        bugs = unhandled_tracebacks(app, result.namespace)
        if not result.ok or bugs:
            raise ScenarioFailed("\n\n".join([result.report(), *bugs]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError.resolve())):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.path.name}"


class ScenarioFailed(AssertionError):
    """A collected scenario that did not hold; its message is the step report."""


class ScenarioPlayer:
    """`emulator_run_scenario(path, **vars)` runs a scenario file in the test's namespace; `.last` is the latest result."""

    def __init__(self, backend: EmulatorHandle, root: Path) -> None:
        self._runner = ScenarioRunner(backend.transport)
        self._backend = backend
        self._root = root
        self.last: ScenarioResult | None = None

    def __call__(self, path: str | Path, **variables: Any) -> ScenarioResult:
        """Run it (its namespace is the test's, so the test sees what it left); fail the test if a step failed."""
        scenario = load_scenario(self._root / path)
        self.last = self._runner.run(scenario, namespace=self._backend.namespace, keep=True, **variables)
        if not self.last.ok:
            pytest.fail(self.last.report(), pytrace=False)
        return self.last


@pytest.fixture
def emulator_run_scenario(emulator_backend: EmulatorHandle, request: pytest.FixtureRequest) -> ScenarioPlayer:
    """Run scenario files (paths relative to the rootdir) in this test's namespace."""
    return ScenarioPlayer(emulator_backend, request.config.rootpath)


@pytest.fixture(autouse=True)
def _emulator_scenario_marker(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.emulator_scenario(path, **vars)`: the scenario runs before the test body."""
    for marker in request.node.iter_markers(SCENARIO_MARKER):
        if len(marker.args) != 1:
            raise pytest.UsageError(f"@pytest.mark.{SCENARIO_MARKER} takes one scenario path, then its vars")
        request.getfixturevalue("emulator_run_scenario")(marker.args[0], **marker.kwargs)
