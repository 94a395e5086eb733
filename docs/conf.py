"""Sphinx configuration of the documentation site; the reference pages are generated from the code."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_reference import write_reference_pages  # noqa: E402

project = "messaging-auth-emulator"
author = "The messaging-auth-emulator maintainers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = project
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # the README's sections start at level 2 inside the pages that include them


def setup(app: object) -> None:
    app.connect("builder-inited", lambda _app: write_reference_pages(Path(__file__).resolve().parent / "reference"))
