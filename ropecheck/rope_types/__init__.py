"""The registry of rope_types and multi-axis layouts: one module per type, each defining
``RECORD = RopeType(...)`` (see ``_record.py`` for what a record says).

``TYPES`` is discovered from the modules of this package (``pkgutil.iter_modules``; modules
whose name starts with ``_`` are helpers), so a new type is one new file. ``discover(path)``
adds the modules of another folder (the tests' toy type uses it).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys

from ropecheck.rope_types._record import DPS, FLOATS, MPMATH, Law, Ops, RopeType, error

__all__ = ["TYPES", "RopeType", "Law", "Ops", "MPMATH", "FLOATS", "DPS", "error", "get", "scaling_types", "layouts",
           "discover", "forget"]

TYPES: dict[str, RopeType] = {}
"""name -> record, scaling types then layouts, each by ``rank``."""


def _register(records) -> None:
    merged = {**TYPES, **{r.name: r for r in records}}
    TYPES.clear()
    TYPES.update(sorted(merged.items(), key=lambda item: (item[1].kind != "scaling", item[1].rank, item[0])))


def _records_in(path, prefix: str):
    for info in pkgutil.iter_modules(path):
        if info.name.startswith("_"):
            continue
        name = prefix + info.name
        if name in sys.modules:
            module = sys.modules[name]
        elif prefix == __name__ + ".":
            module = importlib.import_module(name)
        else:  # a module outside the package: loaded from its file under a private name
            spec = info.module_finder.find_spec(info.name)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        record = getattr(module, "RECORD", None)
        if not isinstance(record, RopeType):
            raise TypeError(f"{name}: a rope_types module must define RECORD = RopeType(...)")
        yield record


def discover(path: str) -> list[str]:
    """Register the records of the modules in folder ``path`` (as this package registers its
    own); returns their names."""
    records = list(_records_in([path], f"{__name__}._extra_{abs(hash(path))}."))
    _register(records)
    return [r.name for r in records]


def forget(names) -> None:
    """Unregister ``names`` (what ``discover`` added)."""
    for name in names:
        TYPES.pop(name, None)


def get(name: str) -> RopeType:
    """The record of rope_type or layout ``name``; ``KeyError`` listing the known ones."""
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown rope_type or layout {name!r}; known: {sorted(TYPES)}") from None


def scaling_types() -> tuple[str, ...]:
    """The rope_type values, by rank ('default' first)."""
    return tuple(name for name, record in TYPES.items() if record.kind == "scaling")


def layouts() -> tuple[RopeType, ...]:
    """The multi-axis layout records, by rank."""
    return tuple(record for record in TYPES.values() if record.kind == "layout")


_register(_records_in(__path__, __name__ + "."))
