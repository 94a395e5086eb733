"""The LivePerson and Mindbehind HTTP kits: a LivePerson rule must name its tenant the way the tenant lookup
reads it, every route module is listed in its provider, and no module imports a private name of another."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

from emulator.providers import liveperson, mindbehind, sunshine
from emulator.providers.liveperson import http as lp_http
from emulator.providers.liveperson import provider as lp_provider
from emulator.providers.mindbehind import provider as mb_provider

PACKAGES = (liveperson, mindbehind, sunshine)


@pytest.mark.parametrize("rule", ["/api/account/<accountId>/widgets", "/api/widgets", "/ws_api/account/<site>/socket"])
def test_a_liveperson_rule_that_does_not_name_its_tenant_is_refused(rule: str) -> None:
    with pytest.raises(ValueError, match="names its tenant"):
        lp_http.operation("GET", rule)
    with pytest.raises(ValueError, match="names its tenant"):
        lp_http.socket_operation(rule)


def _uses_operation(path: Path) -> bool:
    return "@operation(" in path.read_text() or "@socket_operation(" in path.read_text()


@pytest.mark.parametrize(("package", "provider"), [(liveperson, lp_provider), (mindbehind, mb_provider)])
def test_every_module_that_registers_operations_is_listed(package: ModuleType, provider: ModuleType) -> None:
    folder = Path(package.__file__).parent
    registering = {path.stem for path in folder.glob("*.py") if path.stem != "http" and _uses_operation(path)}
    assert registering == {module.__name__.rsplit(".", 1)[1] for module in provider.ROUTE_MODULES}


def test_no_module_imports_a_private_name_of_another() -> None:
    private = []
    for package in PACKAGES:
        for info in pkgutil.iter_modules(package.__path__):
            path = Path(package.__path__[0]) / f"{info.name}.py"
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level > 0:
                    private += [f"{path.name}: {alias.name}" for alias in node.names if alias.name.startswith("_")]
    assert private == []
