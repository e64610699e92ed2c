"""Spec files (docs/contract.md §2): what an implementation claims, validated strictly.

Every mistake is a ``SpecError`` whose message names the file, the key and what was
expected; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ropecheck import rope_types
from ropecheck.config import PAIRINGS
from ropecheck.scaling import ROPE_TYPES
from ropecheck.tolerance import DTYPES

DEVICES = ("cpu", "cuda")
MULTI_AXIS = tuple(layout.name for layout in rope_types.layouts())
"""``multi_axis`` values: the layout records (Qwen2-VL's M-RoPE sections; the axial form, one position axis per pair, cycling)."""
MAX_SUPPORTED_POSITION = 2**53
MAX_BASE = 1e38
"""The largest base a spec may pin: float32 (where nearly all code forms base**e) holds it."""

REQUIRED = ("name", "callable", "pairing", "base", "dtypes", "devices")
SIGNATURES = ("x", "qk")
"""``x``: rope(x, positions, config) -> y; ``qk``: rope(q, k, positions, config) -> (q_out, k_out)."""
POSITION_KINDS = ("any", "consecutive")
"""``any``: a position per token; ``consecutive``: each row (packed: sequence) is offset, offset + 1, ..."""
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "signature": "x",
    "packed": False,
    "positions": "any",
    "partial_rotary": False,
    "inplace": False,
    "differentiable": True,
    "max_position": 131072,
    "requires": [],
    "scaling": [],
    "multi_axis": [],
}


class SpecError(ValueError):
    """A usage error in a spec: ``origin: key 'k': expected ..., got ...``."""

    def __init__(self, origin: str, key: str | None, message: str):
        self.origin, self.key = origin, key
        where = f"{origin}: key '{key}'" if key else origin
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Spec:
    """A validated spec. ``origin`` is the file path, or ``entry point NAME``, or ``built-in``."""

    name: str
    callable: str
    pairing: str
    base: float | str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    signature: str = "x"
    packed: bool = False
    positions: str = "any"
    partial_rotary: bool = False
    inplace: bool = False
    differentiable: bool = True
    max_position: int = 131072
    requires: tuple[str, ...] = ()
    scaling: tuple[str, ...] = ()
    multi_axis: tuple[str, ...] = ()
    origin: str = "built-in"
    folder: str | None = field(default=None, compare=False)

    def missing_requirements(self) -> list[str]:
        """The modules of ``requires`` that cannot be imported here."""
        return [m for m in self.requires if not _importable(m)]

    def load_callable(self) -> Callable:
        """Import ``module:attribute`` with the spec file's folder first on sys.path.

        Raises ``SpecError`` (key ``callable``) when it cannot be imported or is not callable.
        """
        try:
            return import_callable(self.callable, self.folder)
        except ImportProblem as exc:
            raise SpecError(self.origin, "callable", str(exc)) from None

    def to_mapping(self) -> dict[str, Any]:
        """The spec's keys as a plain mapping (what a TOML file or entry point would hold)."""
        return {
            "name": self.name, "callable": self.callable, "pairing": self.pairing, "base": self.base,
            "dtypes": list(self.dtypes), "devices": list(self.devices),
            "signature": self.signature, "packed": self.packed, "positions": self.positions,
            "partial_rotary": self.partial_rotary, "inplace": self.inplace,
            "differentiable": self.differentiable, "max_position": self.max_position,
            "requires": list(self.requires), "scaling": list(self.scaling),
            "multi_axis": list(self.multi_axis),
        }


class ImportProblem(Exception):
    """``module:attribute`` cannot be imported or is not callable; the message is one line."""


def exception_text(exc: BaseException) -> str:
    """An exception in one line; ``SystemExit`` and ``KeyboardInterrupt`` say what they are."""
    if isinstance(exc, SystemExit):
        text = f"SystemExit({exc.code!r}) (it tried to exit the process)"
    else:
        text = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''}"
    return " ".join(text.split())


def import_callable(ref: str, folder: str | None = None) -> Callable:
    """Import ``module:attribute`` (attribute may be dotted), with ``folder`` first on sys.path.

    Anything the import or the attribute lookups raise (``SystemExit`` and
    ``KeyboardInterrupt`` included: untrusted code runs here) becomes ``ImportProblem``.
    Run it in a checking process (``ropecheck.isolation``), not in ropecheck's own: an
    import can also hang or end the process.
    """
    module_name, _, attribute = ref.partition(":")
    if folder and folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - any import failure is the user's to see
        raise ImportProblem(f"cannot import module {module_name!r}: {exception_text(exc)}") from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ImportProblem(f"module {module_name!r} has no attribute {attribute!r}") from None
        except BaseException as exc:  # noqa: BLE001 - a module __getattr__ or a property that raises
            raise ImportProblem(f"looking up {attribute!r} in module {module_name!r} raised "
                                f"{exception_text(exc)}") from None
    if not callable(target):
        raise ImportProblem(f"{ref!r} is a {type(target).__name__}, not a callable")
    return target


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def load_spec(path: str | Path) -> Spec:
    """Read and validate one TOML spec file."""
    path = Path(path)
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(origin, None, f"cannot read spec file: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(origin, None, f"not valid TOML: {exc}") from exc
    return spec_from_mapping(data, origin=origin, folder=str(path.resolve().parent))


def spec_from_mapping(data: Mapping[str, Any], origin: str, folder: str | None = None) -> Spec:
    """Validate a spec mapping (from a file, an entry point or code)."""
    if not isinstance(data, Mapping):
        raise SpecError(origin, None, f"expected a mapping of spec keys, got {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL_DEFAULTS))
    if unknown:
        known = REQUIRED + tuple(OPTIONAL_DEFAULTS)
        raise SpecError(origin, unknown[0], f"unknown key;{_did_you_mean(unknown[0], known)} expected one of: "
                                            f"{', '.join(known)}")
    for key in REQUIRED:
        if key not in data:
            raise SpecError(origin, key, "required key is missing")
    values = {**OPTIONAL_DEFAULTS, **data}
    return Spec(
        name=_name(origin, values["name"]),
        callable=_callable_ref(origin, values["callable"]),
        pairing=_choice(origin, "pairing", values["pairing"], PAIRINGS),
        base=_base(origin, values["base"]),
        dtypes=_choices(origin, "dtypes", values["dtypes"], tuple(DTYPES)),
        devices=_choices(origin, "devices", values["devices"], DEVICES),
        signature=_choice(origin, "signature", values["signature"], SIGNATURES),
        packed=_bool(origin, "packed", values["packed"]),
        positions=_choice(origin, "positions", values["positions"], POSITION_KINDS),
        partial_rotary=_bool(origin, "partial_rotary", values["partial_rotary"]),
        inplace=_bool(origin, "inplace", values["inplace"]),
        differentiable=_bool(origin, "differentiable", values["differentiable"]),
        max_position=_max_position(origin, values["max_position"]),
        requires=_strings(origin, "requires", values["requires"]),
        scaling=_choices(origin, "scaling", values["scaling"], ROPE_TYPES, allow_empty=True),
        multi_axis=_choices(origin, "multi_axis", values["multi_axis"], MULTI_AXIS, allow_empty=True),
        origin=origin,
        folder=folder,
    )


def closest(word: Any, choices) -> str | None:
    """The one of ``choices`` closest to a misspelt ``word`` (difflib's ratio >= 0.6, case
    ignored), or None when none is close (or ``word`` is not a string). What every "did you
    mean" of ropecheck suggests: spec keys and values here, ``--property`` names in commands."""
    if not isinstance(word, str):
        return None
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1)
    return lowered[close[0]] if close else None


def _did_you_mean(word: Any, choices: tuple[str, ...]) -> str:
    """`` did you mean 'pairing'?`` (``closest``), or "" when no choice is close."""
    close = closest(word, choices)
    return f" did you mean {close!r}?" if close else ""


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _name(origin: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(origin, "name", f"expected a non-empty string, got {value!r}")
    if not value.isprintable():
        raise SpecError(origin, "name", f"expected printable characters only (it is shown in every report), "
                                        f"got {value!r}")
    return value


def _callable_ref(origin: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SpecError(origin, "callable", f"expected a string 'module:attribute', got {_type_name(value)}")
    module, sep, attribute = value.partition(":")
    if not sep or not module or not attribute or not all(p.isidentifier() for p in module.split(".") + attribute.split(".")):
        raise SpecError(origin, "callable", f"expected 'module:attribute' (e.g. 'my_adapters:hf_llama'), got {value!r}")
    return value


def _choice(origin: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = _did_you_mean(value, choices)
        raise SpecError(origin, key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}"
                                     + (";" + hint if hint else ""))
    return value


def _choices(origin: str, key: str, value: Any, choices: tuple[str, ...], allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SpecError(origin, key, f"expected an array of strings from {', '.join(map(repr, choices))}, got {_type_name(value)}")
    if not value and not allow_empty:
        raise SpecError(origin, key, f"expected at least one of {', '.join(map(repr, choices))}, got an empty array")
    for item in value:
        if not isinstance(item, str) or item not in choices:
            raise SpecError(origin, key, f"unknown value {item!r};{_did_you_mean(item, choices)} expected values from "
                                         f"{', '.join(map(repr, choices))}")
    if len(set(value)) != len(value):
        raise SpecError(origin, key, f"values repeat in {value!r}; expected each at most once")
    return tuple(value)


def _base(origin: str, value: Any) -> float | str:
    if value == "any":
        return "any"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(origin, "base", f"expected \"any\" or a positive float such as 10000.0, got {value!r}")
    if not math.isfinite(value) or value <= 0 or value == 1 or value > MAX_BASE:
        raise SpecError(origin, "base", f"expected \"any\" or a positive float other than 1 and at most {MAX_BASE:g} "
                                        f"(float32 code must be able to hold it), got {value!r}")
    return float(value)


def _bool(origin: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(origin, key, f"expected true or false, got {_type_name(value)} {value!r}")
    return value


def _max_position(origin: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SUPPORTED_POSITION:
        raise SpecError(origin, "max_position", f"expected an integer in [1, 2**53], got {value!r}")
    return value


def _strings(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(origin, key, f"expected an array of module names, got {value!r}")
    return tuple(value)
