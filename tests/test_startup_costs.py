"""What loading costs: the pytest plugin loads nothing heavy until a fixture runs, and `serve` leaves what
only replay, record, TLS, webhooks or WebSockets need until they are used. Checked by the modules a fresh
interpreter holds (no timing here: the figures are in benchmarks/bench_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import flask
from werkzeug.routing import Rule

from emulator import pytest_plugin
from emulator.app import LazyBuilderRule, create_app
from emulator.pytest_plugin.lazy import LazyName

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_MODULES = ("emulator.pytest_plugin", *(module.__name__ for module in pytest_plugin.FIXTURE_MODULES))
HEAVY = (
    "flask",
    "werkzeug",
    "jwt",
    "cryptography.hazmat.bindings._rust",
    "pydantic",
    "yaml",
    "requests",
    "waitress",
    "emulator.app",
)
ON_FIRST_USE = ("requests", "flask_sock", "simple_websocket", "asyncio", "emulator.scenarios", "jsonpath_ng")


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has run after `code` (this worktree's emulator first on the path)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    listing = "sorted(sys.modules)"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({listing}))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=environment, cwd=ROOT
    )
    return set(json.loads(output.stdout.splitlines()[-1]))


def test_loading_the_plugin_loads_nothing_heavy():
    loaded = modules_after("import pytest\n" + "\n".join(f"import {name}" for name in PLUGIN_MODULES))
    assert set(PLUGIN_MODULES) <= loaded
    assert [name for name in (*HEAVY, "ssl") if name in loaded] == []  # ssl: with the first agent socket


def test_a_pytest_run_that_uses_no_fixture_loads_nothing_heavy(tmp_path: Path):
    """Through the `pytest11` entry point, as every run in an environment with the emulator installed: pytest
    inspects each name of a plugin module (for fixtures), and that must not import what the names stand for."""
    heavy = [name for name in HEAVY if name != "requests"] + ["emulator.web"]  # other plugins here load requests
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_plain():\n"
        f"    assert 'emulator.pytest_plugin' in sys.modules\n"
        f"    assert [name for name in {heavy!r} if name in sys.modules] == []\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        str(tmp_path / "test_plain.py"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]


def test_serve_leaves_what_it_may_never_need_until_used():
    loaded = modules_after("import emulator.cli\nfrom emulator.app import create_app\ncreate_app()")
    assert "flask" in loaded
    assert [name for name in ON_FIRST_USE if name in loaded] == []


def test_a_lazy_name_is_the_object_once_used():
    dumps = LazyName("json", "dumps")
    assert dumps({"a": 1}) == '{"a": 1}'
    decoder = LazyName("json", "JSONDecoder")
    assert isinstance(json.JSONDecoder(), decoder)
    assert decoder.resolve() is json.JSONDecoder


def built_urls(app: flask.Flask) -> list[str]:
    """url_for of every rule whose variables take any text, each variable "x1"."""
    with app.test_request_context():
        return [
            flask.url_for(rule.endpoint, **{argument: "x1" for argument in rule.arguments})
            for rule in app.url_map.iter_rules()
            if all(type(converter).__name__ == "UnicodeConverter" for converter in rule._converters.values())
        ]


def test_urls_are_built_as_werkzeug_builds_them(monkeypatch):
    """URL builders are compiled on first use (app.LazyBuilderRule): what they build is what Werkzeug's own do."""
    lazy = built_urls(create_app())
    monkeypatch.setattr(LazyBuilderRule, "_compile_builder", Rule._compile_builder)
    eager = built_urls(create_app())
    assert len(lazy) > 100
    assert lazy == eager
