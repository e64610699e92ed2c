"""Adapters that bend third-party RoPE code to ropecheck's contract.

Each module imports its library only when its functions are called (einops-style
backends); importing ropecheck.adapters imports nothing else.

Every public adapter function is wrapped in ``bundled(distribution)``. When the installed
release of the library no longer has what the adapter reaches for (a module, an attribute,
a keyword of one of its functions), the call raises ``AdapterMismatch``: the adapter is out
of date, which is ropecheck's failure, and the library was not judged. What the library's
own code raises on an input (HF's ZeroDivisionError at head_dim 2, torchtune's IndexError
past ``max_seq_len``) passes through untouched: those are findings about the library.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
import types
from collections.abc import Callable

_ATTRIBUTE_HOOKS = frozenset({"__getattr__", "__getattribute__"})
"""Functions Python runs for an attribute lookup; one that raises answers the caller's lookup."""

_CALL_ERROR = re.compile(
    r"^(?P<callee>[A-Za-z_][\w.]*)\(\) (?P<what>got an unexpected keyword argument '\w+'"
    r"|missing \d+ required (?:positional|keyword-only) arguments?: .+"
    r"|takes (?:from )?\d+ (?:to \d+ )?positional arguments? but \d+ (?:was|were) given"
    r"|got multiple values for argument '\w+'"
    r"|got some positional-only arguments passed as keyword arguments: .+)$")
"""CPython's messages for arguments that do not bind to a Python function's parameters."""


class AdapterMismatch(Exception):
    """A bundled adapter no longer fits the installed library (ropecheck's failure, not the library's).

    Attributes:
        adapter: ``"module:function"`` of the adapter, e.g. ``"ropecheck.adapters.hf:gptj"``.
        library: the distribution and its installed version, e.g. ``"transformers 5.24.0"``.
        missing: what the adapter reached for and this release does not have.
    """

    def __init__(self, adapter: str, library: str, missing: str):
        super().__init__(adapter, library, missing)  # args rebuild the exception when pickled
        self.adapter, self.library, self.missing = adapter, library, missing

    def __str__(self) -> str:
        missing = " ".join(str(self.missing).split())  # one line, whatever the library's message held
        return f"adapter {self.adapter} does not fit {self.library}: {missing}; the library was not judged"


def bundled(library_dist: str) -> Callable[[Callable], Callable]:
    """Decorator for every public adapter function of ropecheck's bundled adapters.

    While the adapter runs, an ``AttributeError`` on a module, class or object of the
    distribution ``library_dist`` (``exc.obj`` / ``exc.name``), an ``ImportError`` of one of
    its modules, and a ``TypeError`` for arguments that do not bind to one of its functions
    become ``AdapterMismatch`` naming the adapter, the distribution with its installed
    version, and what is missing; the original stays as ``__cause__``. Only lookups and
    calls that the adapter itself makes count: an exception raised from inside the
    library's own code (any frame of the library between the adapter and the raise, other
    than an attribute hook answering the adapter's lookup) stays as it is, because it is
    the library's finding. If the distribution is not installed at all, nothing is
    converted (a spec's ``requires`` makes that a skip).
    """

    def wrap(fn: Callable) -> Callable:
        adapter = f"{fn.__module__}:{fn.__qualname__}"

        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (AttributeError, ImportError, TypeError) as exc:
                missing = _missing(exc, library_dist, fn.__module__)
                version = _installed_version(library_dist) if missing else None
                if missing is None or version is None:
                    raise
                raise AdapterMismatch(adapter, f"{library_dist} {version}", missing) from exc

        run.bundled_library = library_dist
        return run

    return wrap


def _installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _normalized(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@functools.lru_cache(maxsize=None)
def _import_names(dist: str) -> tuple[str, ...]:
    """Top-level import names of the distribution ``dist`` (``rotary-embedding-torch`` ->
    ``rotary_embedding_torch``), from its installed metadata, and its own name as a module."""
    names = {_normalized(dist).replace("-", "_")}
    for top, dists in importlib.metadata.packages_distributions().items():
        if any(_normalized(d) == _normalized(dist) for d in dists):
            names.add(top)
    return tuple(sorted(names))


def _in_library(module_name: str | None, dist: str) -> bool:
    if not module_name:
        return False
    return any(module_name == top or module_name.startswith(top + ".") for top in _import_names(dist))


def _owner(obj: object) -> str:
    """The module that ``obj`` (a module, class, function or instance) comes from."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return getattr(obj, "__module__", None) or ""
    return getattr(type(obj), "__module__", None) or ""


def _describe(obj: object, name: str) -> str:
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__} has no attribute {name!r}"
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__} has no attribute {name!r}"
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__} object has no attribute {name!r}"


def _frames(exc: BaseException) -> list[types.FrameType]:
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _module_of(frame: types.FrameType) -> str:
    return frame.f_globals.get("__name__", "") or ""


def _is_import_machinery(frame: types.FrameType) -> bool:
    return frame.f_code.co_filename.startswith("<frozen importlib") or _module_of(frame).startswith("importlib")


def _callee_frames(exc: BaseException, adapter_module: str) -> list[types.FrameType]:
    """The frames below the last one of ropecheck's (or the adapter's module): what the
    adapter called and that was running when ``exc`` was raised (innermost last)."""
    frames = _frames(exc)
    own = [i for i, f in enumerate(frames)
           if _module_of(f) == adapter_module or _module_of(f).startswith("ropecheck.")]
    return frames[own[-1] + 1:] if own else frames


def _missing(exc: BaseException, dist: str, adapter_module: str) -> str | None:
    """What the adapter reached for in ``dist`` and did not find, or None when ``exc`` is not
    a mismatch (raised inside the library, or about something that is not the library's)."""
    callees = _callee_frames(exc, adapter_module)
    if isinstance(exc, AttributeError):
        # the adapter's own lookup: raised right where it looked, or by attribute hooks
        # (nn.Module.__getattr__, a lazy module's __getattr__) answering it
        if not all(f.f_code.co_name in _ATTRIBUTE_HOOKS for f in callees):
            return None
        obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
        if obj is None or name is None or not _in_library(_owner(obj), dist):
            return None
        return _describe(obj, name)
    if isinstance(exc, ImportError):
        # the adapter's import: only the import machinery ran (a module of the library
        # that fails while it is being imported is the library's own failure)
        if not all(_is_import_machinery(f) for f in callees) or not _in_library(exc.name, dist):
            return None
        if isinstance(exc, ModuleNotFoundError):
            return f"no module {exc.name}"
        found = re.match(r"cannot import name '(\w+)'", str(exc))
        return f"module {exc.name} has no {found.group(1)!r}" if found else str(exc).splitlines()[0]
    if isinstance(exc, TypeError):
        # the arguments did not bind: the callee never started, so no frame of the library ran
        if any(_in_library(_module_of(f), dist) for f in callees):
            return None
        found = _CALL_ERROR.match(str(exc))
        where = found and _library_callable(found.group("callee"), dist)
        return f"{where}() {found.group('what')}" if where else None
    return None


def _library_callable(qualname: str, dist: str) -> str | None:
    """``module.qualname`` of the function or class named ``qualname`` (``"LlamaConfig.__init__"``,
    ``"apply_rotary_pos_emb"``) in an imported module of ``dist``, or None if it has none."""
    head = qualname.split(".")[0]
    for module_name, module in list(sys.modules.items()):
        if module is None or not _in_library(module_name, dist):
            continue
        obj = getattr(module, "__dict__", {}).get(head)
        if obj is not None and callable(obj) and _in_library(_owner(obj), dist):
            return f"{_owner(obj)}.{qualname}"
    return None
