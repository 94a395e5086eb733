"""The rules of the house, read from the package's own import graph and syntax trees (not from regexes).

- a provider imports `core` and the package's neutral layers, never another provider;
- `core` imports no Flask, no Werkzeug and no provider;
- nothing reads the wall clock outside `emulator/core/clock.py`;
- the modules that serve every provider (app, config, record, interception, cli, ...: all but the providers and
  the pytest plugin) know providers only through the registry (`emulator.providers`, `emulator.providers.spec`).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emulator"
CLOCK_MODULE = "emulator.core.clock"
WEB_FRAMEWORKS = ("flask", "werkzeug", "flask_sock", "simple_websocket")
WALL_CLOCK_CALLS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("time", "perf_counter_ns"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def imports_of(name: str) -> set[str]:
    """Absolute names of every module `name` imports, relative imports resolved."""
    found: set[str] = set()
    base = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(modules()[name]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = base.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(part for part in (anchor, node.module or "") if part)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules())
    return found


def provider_of(name: str) -> str | None:
    """The provider a module belongs to: the package under `emulator.providers` it lives in (`spec` is the registry's)."""
    parts = name.split(".")
    in_providers = len(parts) > 2 and parts[:2] == ["emulator", "providers"]
    return parts[2] if in_providers and is_package(".".join(parts[:3])) else None


def test_the_graph_is_read():
    """The rules below would pass vacuously on an empty graph: the graph holds the package."""
    assert {"emulator.core.clock", "emulator.providers.liveperson", "emulator.providers.sunshine"} <= set(modules())
    assert "emulator.core.clock" in imports_of("emulator.core.store")
    assert provider_of("emulator.providers.sunshine.routes") == "sunshine"
    assert provider_of("emulator.providers.spec") is None
    assert "emulator.providers.liveperson.provider" in imports_of("emulator.providers")


@pytest.mark.parametrize("name", sorted(name for name in modules() if provider_of(name)))
def test_a_provider_never_imports_another(name):
    own = provider_of(name)
    foreign = {target for target in imports_of(name) if provider_of(target) not in (None, own)}
    assert not foreign, f"{name} imports another provider: {sorted(foreign)}"


@pytest.mark.parametrize("name", sorted(name for name in modules() if name.startswith("emulator.core")))
def test_core_imports_no_web_framework_and_no_provider(name):
    bad = {
        target
        for target in imports_of(name)
        if target.split(".")[0] in WEB_FRAMEWORKS or provider_of(target) or target == "emulator.providers"
    }
    assert not bad, f"{name} imports {sorted(bad)}"


def is_plugin(name: str) -> bool:
    """The pytest plugin's modules: their provider fixtures may use a provider's own models."""
    return name.startswith(("emulator.pytest_plugin", "emulator.plugin_"))


# app, config, record, interception, proxy, cli, control, ... loop over `PROVIDERS`: adding a provider touches
# its own folder and the registry, not them.
PROVIDER_NEUTRAL = sorted(name for name in modules() if not name.startswith("emulator.providers") and not is_plugin(name))


def test_the_provider_neutral_modules_are_found():
    assert {"emulator.app", "emulator.config", "emulator.scenarios.record", "emulator.interception.hosts", "emulator.cli"} <= set(PROVIDER_NEUTRAL)


@pytest.mark.parametrize("name", PROVIDER_NEUTRAL)
def test_the_provider_neutral_modules_know_providers_only_through_the_registry(name):
    named = {target for target in imports_of(name) if provider_of(target)}
    assert not named, f"{name} imports a provider's own modules: {sorted(named)}"


def wall_clock_reads(tree: ast.Module) -> list[str]:
    """`time.time()`, `datetime.now()` and the like, whether reached as attributes or imported by name."""
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in WALL_CLOCK_CALLS:
                reads.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                if (node.module, alias.name) in WALL_CLOCK_CALLS:
                    reads.append(f"from {node.module} import {alias.name} (line {node.lineno})")
    return reads


def test_the_wall_clock_check_sees_a_read():
    assert wall_clock_reads(ast.parse("import time\nstarted = time.monotonic()")) == ["time.monotonic (line 2)"]
    assert wall_clock_reads(ast.parse("from datetime import datetime\ndatetime.now()")) == ["datetime.now (line 2)"]
    assert wall_clock_reads(ast.parse("from time import perf_counter")) == ["from time import perf_counter (line 1)"]


@pytest.mark.parametrize("name", sorted(name for name in modules() if name != CLOCK_MODULE))
def test_nothing_reads_the_wall_clock_outside_the_clock_module(name):
    assert not wall_clock_reads(modules()[name]), f"{name} reads the wall clock"
