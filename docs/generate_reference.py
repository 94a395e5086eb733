"""The reference pages the site builds from the code itself: every served route and every fixture."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_MODULES = sorted((ROOT / "emulator" / "pytest_plugin").glob("*.py"))
PREFIXES = ("/sc//", "/sc/", "//")  # Sunshine's Zendesk-host prefix and the doubled slash some clients send
PROVIDERS = {"liveperson": "LivePerson", "sunshine": "Sunshine Conversations", "mindbehind": "Mindbehind"}


def summary(text: str | None, fallback: str = "") -> str:
    """The first paragraph of a docstring on one line, or `fallback` (a function's name, said in words)."""
    paragraph = " ".join((text or "").strip().split("\n\n")[0].split())
    return (paragraph or fallback.replace("_", " ")).replace("|", "\\|")


def served_routes() -> dict[str, list[tuple[str, str, str]]]:
    """(methods, path, summary) per blueprint, the prefix variants of one route folded into one row."""
    from emulator.app import create_app

    app = create_app()
    rows: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for prefix in PREFIXES:
            if path.startswith(prefix):
                path = "/" + path[len(prefix) :]
                break
        methods = ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        view = app.view_functions[rule.endpoint]
        rows[rule.endpoint.split(".")[0]].setdefault((methods, path), summary(view.__doc__, view.__name__))
    return {owner: sorted((m, p, s) for (m, p), s in table.items()) for owner, table in rows.items()}


def endpoints_page() -> str:
    lines = [
        "# Served routes",
        "",
        "Every route the emulator serves, read from the application's URL map when this site was built (a route",
        "also served under Sunshine's `/sc/` prefix or with a doubled leading slash appears once). The provider",
        "guides say what each answers.",
        "",
    ]
    routes = served_routes()
    for owner in [*PROVIDERS, *sorted(set(routes) - set(PROVIDERS))]:
        if owner not in routes:
            continue
        lines += [f"## {PROVIDERS.get(owner, 'Control API and hooks' if owner == 'control' else owner)}", ""]
        lines += [f"{len(routes[owner])} routes.", "", "| methods | path | summary |", "|---|---|---|"]
        lines += [f"| {methods} | `{path}` | {summary} |" for methods, path, summary in routes[owner]]
        lines.append("")
    return "\n".join(lines)


def fixtures_of(path: Path) -> list[tuple[str, str, str]]:
    """(name, scope, docstring line) of every `@pytest.fixture` function of a plugin module."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                scope = next((k.value.value for k in (call.keywords if call else []) if k.arg == "scope"), "function")
                found.append((node.name, scope, summary(ast.get_docstring(node))))
    return found


def fixtures_page() -> str:
    lines = [
        "# Fixtures",
        "",
        "Every fixture the pytest plugin provides, read from the plugin's modules (`emulator/pytest_plugin/`)",
        "when this site was built.",
    ]
    for module in PLUGIN_MODULES:
        fixtures = fixtures_of(module)
        if fixtures:
            lines += ["", f"## {module.stem}", "", summary(ast.get_docstring(ast.parse(module.read_text()))), ""]
            lines += ["| fixture | scope | what it gives |", "|---|---|---|"]
            lines += [f"| `{name}` | {scope} | {doc} |" for name, scope, doc in fixtures]
    return "\n".join(lines) + "\n"


def write_reference_pages(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "routes.md").write_text(endpoints_page())
    (folder / "fixtures.md").write_text(fixtures_page())
