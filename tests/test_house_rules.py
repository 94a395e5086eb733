"""The rules of the house, read from the package's own import graph and syntax trees (not from regexes).

- a provider imports `core` and the package's neutral layers, never another provider;
- `core` imports no Flask, no Werkzeug and no provider;
- nothing reads the wall clock outside `emulator/core/clock.py`;
- the modules that serve every provider (app, config, record, interception, cli, ...: all but the providers and
  the pytest plugin) know providers only through the registry (`emulator.providers`, `emulator.web.spec`).
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect

from emulator.app import create_app

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "emulator"
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
    assert provider_of("emulator.web.spec") is None
    assert "emulator.providers.liveperson.provider" in imports_of("emulator.providers")


@pytest.mark.parametrize("name", sorted(name for name in modules() if provider_of(name)))
def test_a_provider_never_imports_another(name):
    own = provider_of(name)
    foreign = {target for target in imports_of(name) if provider_of(target) not in (None, own)}
    assert not foreign, f"{name} imports another provider: {sorted(foreign)}"


@pytest.mark.parametrize("name", sorted(name for name in modules() if name.startswith("emulator.core")))
def test_core_imports_no_web_framework_and_no_provider(name):
    """Neither directly nor through another module of the package (`core` -> `web` -> Flask counts)."""
    bad = {
        f"{source} imports {target}"
        for source in reached_from(name)
        for target in imports_of(source)
        if target.split(".")[0] in WEB_FRAMEWORKS or provider_of(target) or target == "emulator.providers"
    }
    assert not bad, f"{name} reaches {sorted(bad)}"


def reached_from(name: str) -> set[str]:
    """`name` and every module of the package it imports, directly or through others."""
    reached, pending = set(), [name]
    while pending:
        module = pending.pop()
        if module not in reached:
            reached.add(module)
            pending += [target for target in imports_of(module) if target in modules()]
    return reached


# The package's layers, bottom first: a module imports only from its own layer or those below, so the folders
# read as layers and no import circle can form between them.
LAYERS = [
    ("emulator.core",),
    ("emulator.client",),
    ("emulator.web",),
    ("emulator.providers",),
    ("emulator.config", "emulator.interception"),
    ("emulator.serving", "emulator.scenarios"),
    ("emulator.control", "emulator.pytest_plugin"),
    ("emulator.app",),
    ("emulator.cli",),
    ("emulator.__main__",),
]


def layer_of(name: str) -> int | None:
    """The index in LAYERS of the part of the package `name` belongs to (None: the package's face)."""
    for index, parts in enumerate(LAYERS):
        if any(name == part or name.startswith(part + ".") for part in parts):
            return index
    return None


def test_every_module_has_a_layer():
    assert [name for name in modules() if name != "emulator" and layer_of(name) is None] == []


@pytest.mark.parametrize("name", sorted(name for name in modules() if name != "emulator"))
def test_a_module_imports_only_from_its_layer_or_below(name):
    own = layer_of(name)
    above = sorted(
        target for target in imports_of(name) if target in modules() and (layer_of(target) or 0) > (own or 0)
    )
    assert not above, f"{name} (layer {LAYERS[own or 0]}) imports from a layer above: {above}"


def test_the_core_check_follows_imports_through_the_package():
    assert "emulator.core.clock" in reached_from("emulator.core.store")
    assert "emulator.web" in reached_from("emulator.control.routes")


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` of an attribute chain on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def is_plugin(name: str) -> bool:
    """The pytest plugin's modules: their provider fixtures may use a provider's own models."""
    return name.startswith(("emulator.pytest_plugin", "emulator.plugin_"))


# app, config, record, interception, proxy, cli, control, ... loop over `PROVIDERS`: adding a provider touches
# its own folder and the registry, not them.
PROVIDER_NEUTRAL = sorted(
    name for name in modules() if not name.startswith("emulator.providers") and not is_plugin(name)
)


def test_the_provider_neutral_modules_are_found():
    assert {
        "emulator.app",
        "emulator.config",
        "emulator.scenarios.record",
        "emulator.interception.hosts",
        "emulator.cli",
    } <= set(PROVIDER_NEUTRAL)


@pytest.mark.parametrize("name", PROVIDER_NEUTRAL)
def test_the_provider_neutral_modules_know_providers_only_through_the_registry(name):
    named = {target for target in imports_of(name) if provider_of(target)}
    assert not named, f"{name} imports a provider's own modules: {sorted(named)}"


def wall_clock_reads(tree: ast.Module) -> list[str]:
    """`time.time()`, `datetime.now()` and the like, whether reached as attributes (through a module, a class
    or an alias) or imported by name."""
    aliases: dict[str, str] = {}  # a name bound by an import -> what it names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update({alias.asname: alias.name for alias in node.names if alias.asname})
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            aliases.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (name := dotted_name(node)):
            head, _, rest = name.partition(".")
            parts = tuple(".".join(filter(None, (aliases.get(head, head), rest))).split("."))
            if parts[-2:] in WALL_CLOCK_CALLS:
                reads.append(f"{'.'.join(parts[-2:])} (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                if (node.module, alias.name) in WALL_CLOCK_CALLS:
                    reads.append(f"from {node.module} import {alias.name} (line {node.lineno})")
    return reads


def test_the_wall_clock_check_sees_a_read():
    assert wall_clock_reads(ast.parse("import time\nstarted = time.monotonic()")) == ["time.monotonic (line 2)"]
    assert wall_clock_reads(ast.parse("from datetime import datetime\ndatetime.now()")) == ["datetime.now (line 2)"]
    assert wall_clock_reads(ast.parse("from time import perf_counter")) == ["from time import perf_counter (line 1)"]
    assert wall_clock_reads(ast.parse("import datetime\ndatetime.datetime.now()")) == ["datetime.now (line 2)"]
    assert wall_clock_reads(ast.parse("import time as t\nt.time()")) == ["time.time (line 2)"]
    assert wall_clock_reads(ast.parse("from datetime import date as d\nd.today()")) == ["date.today (line 2)"]
    assert wall_clock_reads(ast.parse("import time\ntime.sleep(1)\nclock.now()")) == []


@pytest.mark.parametrize("name", sorted(name for name in modules() if name != CLOCK_MODULE))
def test_nothing_reads_the_wall_clock_outside_the_clock_module(name):
    assert not wall_clock_reads(modules()[name]), f"{name} reads the wall clock"


# --- every served route is documented; every documented route is served ----------------------------------

HTTP_METHOD = r"(?:GET|POST|PUT|PATCH|DELETE)"
# `GET /path`, `GET`, `POST /path`, `GET`, `DELETE .../rest`, `POST appusers` (a path relative to its section)
DOCUMENTED_CALL = re.compile(rf"`({HTTP_METHOD}(?:`?,\s*`?{HTTP_METHOD})*)\s+([^`\s]+)`")
# The hand-written endpoint tables: the provider reference, the guides and the tutorials.
ENDPOINT_PAGES = [ROOT / "docs" / "providers.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
ENDPOINT_PAGES += sorted((ROOT / "docs" / "tutorials").glob("*.md"))
# The bases the tables' sections state in prose ("Under `/__emulator/`", "under `/v2/apps/{appId}`", ...).
SECTION_BASES = ["", "/__emulator", "/__emulator/mindbehind", "/v2/apps/app", "/sdk/v2/apps/app", "/v1.1/apps/app"]


@cache
def reference_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_reference", ROOT / "docs" / "generate_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def url_adapter() -> MapAdapter:
    return create_app().url_map.bind("emulator.test")


def folded(path: str) -> str:
    """A rule's path as the route table shows it: Sunshine's `/sc/` and the doubled-slash variants as one."""
    for prefix in reference_generator().PREFIXES:
        if path.startswith(prefix):
            return "/" + path[len(prefix) :]
    return path


def test_every_served_route_is_in_the_generated_route_table():
    page = reference_generator().endpoints_page()
    rows = {(methods, path) for methods, path in re.findall(r"^\| ([A-Z, ]+) \| `([^`]+)` \|", page, re.M)}
    rules = [rule for rule in url_adapter().map.iter_rules() if rule.endpoint != "static"]
    assert {rule.endpoint.split(".")[0] for rule in rules} >= {"control", "liveperson", "mindbehind", "sunshine"}
    missing = [
        f"{sorted(rule.methods or ())} {rule.rule}"
        for rule in rules
        if (", ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})), folded(rule.rule)) not in rows
    ]
    assert not missing, f"served but not in docs/reference/routes.md: {missing}"


def documented_calls(page: Path) -> Iterator[tuple[int, str, str]]:
    """(line, method, path) of every call an endpoint table names, `...` spelled out from the call before it
    in the same table (`.../keys/{keyId}` after `/integrations/{id}/keys`), and `[optional]` parts dropped."""
    previous = ""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if not line.startswith("|"):
            previous = ""
            continue
        for methods, written in DOCUMENTED_CALL.findall(line):
            path = re.sub(r"\[[^\]]*\]", "", written).split("?")[0]
            if path.startswith("{"):  # on another host (the CSDS `swift` host's path)
                continue
            if path.startswith("..."):
                path = spelled_out(path.removeprefix(".../"), previous)
            previous = path
            for method in re.findall(HTTP_METHOD, methods):
                yield number, method, path


def spelled_out(rest: str, previous: str) -> str:
    """`rest` (what follows `.../`) placed on `previous`: from the segment they share, else after it when
    `rest` starts with a variable, else in place of its last segment."""
    segments, first = previous.split("/"), rest.split("/")[0]
    if first in segments:
        return "/".join(segments[: segments.index(first)] + [rest])
    if first.startswith("{"):
        return f"{previous}/{rest}"
    return "/".join(segments[:-1] + [rest])


def is_served(method: str, path: str) -> bool:
    concrete = re.sub(r"\{[^}]*\}|<[^>/]*>", "x1", path if path.startswith("/") else f"/{path}")
    for base in SECTION_BASES:
        try:
            url_adapter().match(base + concrete, method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect):
            continue
        return True
    return False


def test_the_documented_call_reader_sees_the_tables():
    """The check below would pass vacuously if the reader found no call: it finds them, `...` spelled out."""
    calls = {(method, path) for page in ENDPOINT_PAGES for _, method, path in documented_calls(page)}
    assert len(calls) > 100
    assert ("GET", "/integrations/{id}/keys/{keyId}") in calls
    assert ("POST", "/api/account/{a}/anonymous/authorize") in calls
    assert ("POST", "/clock") in calls
    assert not is_served("GET", "/api/account/{a}/no-such-route")


@pytest.mark.parametrize("page", ENDPOINT_PAGES, ids=lambda page: page.stem)
def test_the_endpoint_tables_name_only_served_routes(page: Path):
    unserved = [
        f"line {n}: {method} {path}" for n, method, path in documented_calls(page) if not is_served(method, path)
    ]
    assert not unserved, f"{page.relative_to(ROOT)} names routes the emulator does not serve: {unserved}"


# --- tests do not sleep -------------------------------------------------------------------------------------

SLEEP_MARK = re.compile(r"#.*\bsleep-ok\b\W+\w")  # the mark and a reason


def unmarked_sleeps(source: str) -> list[int]:
    """Lines calling `time.sleep` (or a `sleep` imported from `time`) without a `# noqa: sleep-ok: <reason>`."""
    tree = ast.parse(source)
    bare = any(
        isinstance(node, ast.ImportFrom) and node.module == "time" and any(a.name == "sleep" for a in node.names)
        for node in ast.walk(tree)
    )
    calls = {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "sleep"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            )
            or (bare and isinstance(node.func, ast.Name) and node.func.id == "sleep")
        )
    }
    marked = {
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and SLEEP_MARK.search(token.string)
    }
    return sorted(calls - marked)


def test_the_sleep_check_sees_a_sleep():
    assert unmarked_sleeps("import time\ntime.sleep(1)\ntime.sleep(2)  # noqa: sleep-ok: a reason\n") == [2]
    assert unmarked_sleeps("from time import sleep\nsleep(1)\n") == [2]


@pytest.mark.parametrize("path", sorted((ROOT / "tests").glob("*.py")), ids=lambda path: path.name)
def test_a_test_sleeps_only_where_marked(path: Path):
    lines = unmarked_sleeps(path.read_text())
    assert not lines, (
        f"{path.name} sleeps on lines {lines} without `# noqa: sleep-ok: <reason>`: advance the emulator's clock"
    )
