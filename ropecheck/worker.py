"""The checking process: imports one implementation and runs what ropecheck asks of it.

Started by ``ropecheck.engine`` inside an ``ropecheck.isolation.Sandbox`` as
``python -P -m ropecheck.worker`` (``-P``: the working directory is not put on sys.path;
only the spec's folder is, when its callable is imported). It reads JSON commands, one per
line, from the descriptor ``ROPECHECK_COMMANDS`` and answers on ``ROPECHECK_CHANNEL`` with
framed lines ``RC1 <token> <json>``, written whole and at once, so that a crash or a hang
loses at most the work in flight. Commands and their events::

    {"op": "load", "spec": {...}, "origin": ..., "folder": ...}
        -> {"event": "loaded"} | {"event": "load_error", "message": ...}
    {"op": "run", "properties": [...], "profile": ..., "device": ..., "spec_ref": ...}
        -> {"event": "start", "name": P}, {"event": "result", ...PropertyResult...}, ...,
           {"event": "finished"}
    {"op": "recheck", "property": ..., "case": ..., "device": ..., "spec": {...}, ...}
    {"op": "identify", "target": ..., "head_dim": ..., "device": ..., "max_position": ... or None}
        -> {"event": "loaded"} | {"event": "load_error", ...}, then {"event": "identified", "json": ..., "rows": ..., "notes": ..., "message": ...}
    {"op": "precision", "positions": [...], "device": ..., "spec": {...}, ...}  (after "load")
        -> {"event": "precision", "rows": [...]}  (``ropecheck.precision.spec_sweep``)

End of file on the commands descriptor means stop. The first event is ``{"event": "ready"}``.
Torch runs with one intra-op thread: a checking process is one of several sharing the cores.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from typing import Any, Callable


class Channel:
    """The write end of a sandbox's result channel (``ropecheck.isolation``)."""

    def __init__(self) -> None:
        self.fd = int(os.environ.pop("ROPECHECK_CHANNEL"))
        self.prefix = b"RC1 " + os.environ.pop("ROPECHECK_TOKEN").encode() + b" "

    def emit(self, event: dict[str, Any]) -> None:
        data = memoryview(self.prefix + json.dumps(event).encode() + b"\n")
        while data:
            try:
                written = os.write(self.fd, data)
            except OSError as exc:  # the descriptor is gone: only the code under test closes it
                with contextlib.suppress(OSError):
                    os.write(2, f"ropecheck: the implementation closed ropecheck's result channel (it closes file "
                                f"descriptors it did not open): {exc}\n".encode())
                os._exit(CHANNEL_CLOSED_EXIT)
            data = data[written:]


CHANNEL_CLOSED_EXIT = 70
"""The exit status of a checking process whose result channel the implementation closed."""


def _load(job: dict[str, Any]) -> tuple[Callable | None, dict[str, Any]]:
    from ropecheck.spec import SpecError, spec_from_mapping

    spec = spec_from_mapping(job["spec"], origin=job["origin"], folder=job.get("folder"))
    try:
        return spec.load_callable(), {"event": "loaded"}
    except SpecError as exc:
        return None, {"event": "load_error", "message": str(exc)}


def _run(job: dict[str, Any], fn: Callable, channel: Channel) -> None:
    from ropecheck import profiles
    from ropecheck.properties import BY_NAME, Subject
    from ropecheck.runner import preflight, run_property
    from ropecheck.spec import spec_from_mapping

    spec = spec_from_mapping(job["spec"], origin=job["origin"], folder=job.get("folder"))
    settings = profiles.get(job["profile"])
    subject = Subject(fn=fn, spec=spec, device=job["device"])
    not_judged = preflight(subject)
    for name in job["properties"]:
        channel.emit({"event": "start", "name": name})
        result = run_property(BY_NAME[name], subject, settings, job["spec_ref"], not_judged=not_judged,
                              profile=job["profile"])
        channel.emit({"event": "result", **result.to_json()})
    channel.emit({"event": "finished"})


def _recheck(job: dict[str, Any], fn: Callable) -> dict[str, Any]:
    """One failing case again, first thing in this fresh process: ``passed`` when it holds
    here (the failure depended on calls made before it). For ``call_history`` the last call
    alone is checked, without the calls before it."""
    from dataclasses import replace

    from ropecheck.properties import BY_NAME, NotJudged, PropertyFailed, Subject
    from ropecheck.repro import parse_case
    from ropecheck.spec import spec_from_mapping

    spec = spec_from_mapping(job["spec"], origin=job["origin"], folder=job.get("folder"))
    case = parse_case(job["case"])
    prop = BY_NAME[job["property"]]
    if job["property"] == "call_history":
        prop, case = BY_NAME["oracle_agreement"], replace(case, setup=None)
    try:
        prop.check(Subject(fn=fn, spec=spec, device=job["device"]), case)
    except (PropertyFailed, NotJudged):
        return {"event": "rechecked", "passed": False}
    except Exception:  # noqa: BLE001 - fails here too, in another way: not history
        return {"event": "rechecked", "passed": False}
    return {"event": "rechecked", "passed": True}


def _identify(job: dict[str, Any], channel: Channel) -> dict[str, Any]:
    from ropecheck import identify

    try:
        fn = identify.load(job["target"])
    except identify.LoadError as exc:
        return {"event": "load_error", "message": str(exc)}
    channel.emit({"event": "loaded"})
    fn = identify.as_x_form(fn, job.get("signature", "x"), job.get("packed", False))
    result = identify.identify(fn, head_dim=job["head_dim"], device=job["device"],
                               max_position=job.get("max_position"))
    return {"event": "identified", "json": result.to_json(), "rows": identify.rows(result),
            "notes": list(result.notes), "message": result.message}


def _precision(job: dict[str, Any], fn: Callable) -> dict[str, Any]:
    from ropecheck.precision import spec_sweep
    from ropecheck.spec import spec_from_mapping

    spec = spec_from_mapping(job["spec"], origin=job["origin"], folder=job.get("folder"))
    return {"event": "precision", "rows": spec_sweep(fn, spec, job["positions"], job["device"])}


def _sys_path(env: dict[str, str]) -> list[str]:
    """sys.path as ``python -P`` would start it with ``env``: PYTHONPATH first, then this
    interpreter's own entries, without the script's folder or the working directory."""
    own = sys.path[0 if sys.flags.safe_path else 1:]
    cwd = os.getcwd()
    first = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    path: list[str] = []
    for entry in first + own:
        if entry and entry not in path and os.path.abspath(entry) != cwd:
            path.append(entry)
    return path


def _installed_roots() -> tuple[str, ...]:
    """Folders whose modules a fresh checking process may share with ropecheck's: the
    standard library, site-packages and ropecheck itself."""
    import sysconfig

    roots = {os.path.dirname(os.path.abspath(__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(os.path.abspath(sysconfig.get_path(key)))
        except (KeyError, TypeError):
            pass
    return tuple(sorted(root.rstrip(os.sep) + os.sep for root in roots))


def _forget_foreign_modules(roots: tuple[str, ...]) -> None:
    """Drop modules loaded from anywhere else (a test suite's own modules, code under test
    imported by a host process): the implementation must be imported afresh here, as in a
    new interpreter, not inherited with the state the host left in it."""
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and not os.path.abspath(where).startswith(roots):
            del sys.modules[name]


def prepare_checking_process() -> None:
    """What a checking process needs before its first example, done once (in ropecheck's
    process before it forks them): torch and the checking code imported, torch held to one
    thread (OpenMP's pool does not survive a fork), NumPy's random module imported (Hypothesis
    imports it at the first example), and everything loaded so far frozen out of the
    garbage collector (``gc.freeze``): torch's hundreds of thousands of objects are then
    never traversed by a collection, here or in a fork, nor copied into a fork by one."""
    import numpy.random  # noqa: F401
    import torch

    import ropecheck.profiles  # noqa: F401
    import ropecheck.runner  # noqa: F401

    torch.set_num_threads(1)
    keep_freed_memory()
    gc.freeze()


MMAP_THRESHOLD = 32 * 2**20
"""Allocations from this size up get their own pages from the kernel and give them back
when freed; smaller ones come from, and go back to, the process's heap. 32 MiB is the most
glibc's own adaptive threshold ever reaches on 64-bit machines: serving-size tensors
(64 MiB and up) are still handed back at once."""
TRIM_THRESHOLD = 64 * 2**20
"""Free memory at the top of the heap up to this much is kept for the next example."""
TOP_PAD = 16 * 2**20
"""How much more the heap grows each time it must (fewer, larger requests to the kernel)."""


def keep_freed_memory() -> None:
    """Tell glibc's malloc to keep freed memory for the next example instead of giving it
    back to the kernel (on Linux, where the C library has ``mallopt``; elsewhere nothing).
    A checking process allocates and frees tensors of the same few sizes thousands of
    times; by default glibc returns the top of the heap to the kernel whenever a few MiB
    are free there, and every page is then faulted in and zeroed again by the next example.
    Measured on the 2-core VM (half-split, ci profile, one process, 2026-12-03): minor page
    faults 155-187 thousand -> 65-67 thousand, system CPU 0.55-0.66 s -> 0.28-0.37 s. Only
    speed changes: what is allocated, and every value, is the same."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # <malloc.h>
    # the mmap threshold first: setting any of the three ends glibc's adaptive thresholds
    for param, value in ((m_mmap_threshold, MMAP_THRESHOLD), (m_trim_threshold, TRIM_THRESHOLD),
                         (m_top_pad, TOP_PAD)):
        mallopt(param, value)


def forked(env: dict[str, str]) -> Callable[[], int]:
    """The body of a checking process forked from ropecheck (``engine.Pool(fork=True)``),
    prepared in ropecheck's process: torch and the checking code are imported there once,
    torch is held to one thread before any fork (OpenMP's pool does not survive a fork),
    and each fork starts with a clean sys.path and no modules from outside the installation."""
    prepare_checking_process()
    path, roots = _sys_path(env), _installed_roots()

    def target() -> int:
        sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))  # read at start by a new interpreter
        sys.path[:] = path
        sys.argv = [os.path.abspath(__file__)]
        _forget_foreign_modules(roots)
        return main()

    return target


def main() -> int:
    channel = Channel()
    commands = os.fdopen(int(os.environ.pop("ROPECHECK_COMMANDS")), "rb")
    prepare_checking_process()  # done already in a fork; in a new interpreter, here
    channel.emit({"event": "ready", "pid": os.getpid()})
    fn: Callable | None = None
    for line in commands:
        job = json.loads(line)
        if job["op"] == "load":
            fn, event = _load(job)
            channel.emit(event)
        elif job["op"] == "run" and fn is not None:
            _run(job, fn, channel)
        elif job["op"] == "recheck" and fn is not None:
            channel.emit(_recheck(job, fn))
        elif job["op"] == "precision" and fn is not None:
            channel.emit(_precision(job, fn))
        elif job["op"] == "identify":
            channel.emit(_identify(job, channel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
