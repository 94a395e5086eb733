"""Path globs shared by the journal and fault rules: `*` within one segment, `**` across segments."""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=1024)
def compile_path_glob(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts)
    return re.compile(rf"^{regex}$")


def path_matches(pattern: str, path: str) -> bool:
    return compile_path_glob(pattern).match(path) is not None
