"""Where implementations come from: built-in variants, the ``ropecheck.implementations``
entry-point group, and the spec files of a ``specs/`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

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
    """All known implementations: specs/ first, then entry points, then built-ins."""
    items = folder_specs(folder) + entry_point_specs()
    items += [Known(s.name, "built-in", s) for s in builtin_specs()]
    return items


def resolve(target: str, folder: str | Path = "specs") -> list[tuple[Spec, str]]:
    """A verify TARGET: a spec file, a folder of spec files, or a registered name.

    Returns (spec, the reference a reproduce line uses). Raises SpecError when the
    target is neither a readable spec nor a known name.
    """
    path = Path(target)
    if path.is_dir():
        found = sorted(path.glob("*.toml"))
        if not found:
            raise SpecError(target, None, "folder holds no *.toml spec files")
        return [(load_spec(p), str(p)) for p in found]
    if path.suffix == ".toml" or path.exists():
        return [(load_spec(path), str(path))]
    for item in known(folder):
        if item.name == target:
            if item.spec is None:
                raise SpecError(target, None, item.error)
            return [(item.spec, target)]
    names = sorted({k.name for k in known(folder)})
    raise SpecError(target, None, f"not a spec file and not a registered name; known names: {', '.join(names)}")
