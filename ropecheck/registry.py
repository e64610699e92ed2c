"""Where implementations come from: built-in variants, the ``ropecheck.implementations``
entry-point group, and the spec files of a ``specs/`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from ropecheck.spec import Spec, SpecError, load_spec, spec_from_mapping
from ropecheck.variants import VARIANTS

ENTRY_POINT_GROUP = "ropecheck.implementations"
ALL_DTYPES = ["float64", "float32", "bfloat16", "float16"]


@dataclass(frozen=True)
class Known:
    """One known implementation: its spec (or the error that stops loading it) and source."""

    name: str
    source: str  # "built-in", "entry point", "specs/"
    spec: Spec | None
    error: str = ""


def builtin_specs() -> list[Spec]:
    """The five variants of ``ropecheck.variants``, available without any file."""
    out = []
    for name, (fn, pairing) in VARIANTS.items():
        out.append(spec_from_mapping({
            "name": name, "callable": f"ropecheck.variants:{fn.__name__}", "pairing": pairing, "base": "any",
            "dtypes": ALL_DTYPES, "devices": ["cpu", "cuda"], "partial_rotary": True,
        }, origin=f"built-in ropecheck.variants.{fn.__name__}"))
    return out


def entry_point_specs() -> list[Known]:
    """Specs registered by installed packages; an entry point may hold a mapping or a
    function returning one."""
    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
            mapping = obj() if callable(obj) else obj
            spec = spec_from_mapping(mapping, origin=origin)
            out.append(Known(spec.name, "entry point", spec))
        except SpecError as exc:
            out.append(Known(ep.name, "entry point", None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not fatal
            out.append(Known(ep.name, "entry point", None, f"{origin}: cannot load: {type(exc).__name__}: {exc}"))
    return out


def folder_specs(folder: str | Path = "specs") -> list[Known]:
    """Every ``*.toml`` in ``folder`` (default: ./specs), sorted by file name."""
    out = []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            spec = load_spec(path)
            out.append(Known(spec.name, "specs/", spec))
        except SpecError as exc:
            out.append(Known(path.stem, "specs/", None, str(exc)))
    return out


def known(folder: str | Path = "specs") -> list[Known]:
    """All known implementations: built-ins, then specs/, then entry points."""
    return [Known(s.name, "built-in", s) for s in builtin_specs()] + folder_specs(folder) + entry_point_specs()


def shadowed(items: list[Known]) -> dict[int, Known]:
    """Items (by position) whose name a built-in already has, mapped to that built-in.

    A built-in name always means the built-in: a ``specs/`` file or an entry point cannot
    take it over (``ropecheck verify half-split`` in a cloned repository runs ropecheck's
    own half-split, never that repository's file)."""
    builtins = {k.name: k for k in items if k.source == "built-in"}
    return {i: builtins[k.name] for i, k in enumerate(items) if k.source != "built-in" and k.name in builtins}


def _same(a: Spec | None, b: Spec | None) -> bool:
    return a is not None and b is not None and a.to_mapping() == b.to_mapping()


def resolve(target: str, folder: str | Path = "specs",
            warn: Callable[[str], None] | None = None) -> list[tuple[Spec, str]]:
    """A verify TARGET: a spec file, a folder of spec files, or a registered name.

    Returns (spec, the reference a reproduce line uses). Raises SpecError when the
    target is neither a readable spec nor a known name, or when a name is ambiguous
    between a specs/ file and an entry point. A built-in name resolves to the built-in;
    ``warn`` is told when another spec that differs from it has the same name.
    """
    path = Path(target)
    if path.is_dir():
        found = sorted(path.glob("*.toml"))
        if not found:
            raise SpecError(target, None, "folder holds no *.toml spec files")
        return [(load_spec(p), str(p)) for p in found]
    if path.suffix == ".toml" or path.exists():
        return [(load_spec(path), str(path))]
    items = known(folder)
    matches = [k for k in items if k.name == target]
    if not matches:
        names = sorted({k.name for k in items})
        raise SpecError(target, None, f"not a spec file and not a registered name; known names: {', '.join(names)}")
    first = matches[0]
    if first.source == "built-in":
        for other in matches[1:]:
            if warn is not None and not _same(other.spec, first.spec):
                where = other.spec.origin if other.spec is not None else f"{other.source} {other.name!r}"
                warn(f"{where} also calls itself {target!r}; the built-in {target!r} is used "
                     "(give the spec file's path to verify that one)")
        return [(first.spec, target)]
    if len(matches) > 1:
        where = " and ".join(m.spec.origin if m.spec is not None else m.source for m in matches)
        raise SpecError(target, None, f"the name is ambiguous: {where} both use it; give the spec file's path")
    if first.spec is None:
        raise SpecError(target, None, first.error)
    return [(first.spec, target)]
