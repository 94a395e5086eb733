"""Names imported on first use, so that loading the pytest plugin costs a test run nothing until a fixture runs."""

from __future__ import annotations

import importlib
from typing import Any


class LazyName:
    """`module.name` (or the module itself, without `name`), imported when first called, read from or used in
    `isinstance` (not in `except`). Names starting with `_` are not looked up: inspection (pytest looks for
    fixture markers on every name of a plugin module) must not import anything."""

    __slots__ = ("_module", "_name", "_target")

    def __init__(self, module: str, name: str | None = None) -> None:
        self._module = module
        self._name = name
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is None:
            module = importlib.import_module(self._module)
            self._target = module if self._name is None else getattr(module, self._name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self.resolve(), attribute)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self.resolve())

    def __repr__(self) -> str:
        return f"<lazy {self._module}{'' if self._name is None else '.' + self._name}>"
