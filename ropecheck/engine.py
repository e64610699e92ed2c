"""Checking whole implementations, each in isolated checking processes with time limits.

An implementation is first *loaded*: its callable is imported in a fresh checking process
(``ropecheck.worker`` inside an ``ropecheck.isolation.Sandbox``). An import that raises,
exits, kills its process or hangs is a usage error (``LoadError``, exit 2) naming the spec
file and its ``callable``; nothing is imported in ropecheck's own process. Then the
properties run in that process, each result recorded as soon as it arrives. If the
process raises out, hangs, dies, signals its parent or garbles its result channel, the
property in flight fails with that reason, the results already in are kept, and a fresh
process goes on with the remaining properties.

Time limits are in CPU seconds of the checking process's tree (``--timeout``, per
property), so a busy machine never turns a correct implementation into a hung one; a
process that uses no CPU at all for a while is blocked, and one that needs more wall time
than any honest run would is reported *too slow to judge* (``error``). After a hang the
later properties get ``AFTER_HANG_TIMEOUT`` CPU seconds, so an implementation that always
hangs still ends in bounded time. A stop request (SIGINT, SIGTERM) ends the run between
two ticks: every process is killed, what finished is returned, the rest is marked as not
run.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ropecheck import profiles
from ropecheck.identify import JSON_KEYS
from ropecheck.isolation import Interrupted, Limits, Sandbox, Stop, Watch, can_fork, wait_any
from ropecheck.properties import BY_NAME, PROPERTIES, Subject
from ropecheck.runner import PropertyResult, not_applicable, run_property
from ropecheck.spec import Spec

DEFAULT_TIMEOUT = {"ci": 120.0, "dev": 600.0, "thorough": 3600.0}
"""CPU seconds one property may use, per profile (``--timeout`` overrides)."""
AFTER_HANG_TIMEOUT = 15.0
TICK_S = 0.25
WORKER = ["-P", "-m", "ropecheck.worker"]
"""How a checking process is started (after ``sys.executable``): ``-P`` keeps the working
directory off sys.path, so a ``random.py`` or ``ropecheck/`` there is not imported."""


class LoadError(Exception):
    """An implementation's callable cannot be imported in a checking process: a usage
    error whose message is one line naming the spec file and ``callable``."""


@dataclass
class ImplementationResult:
    """The verdict on one implementation: every property on every device.

    ``not_judged`` says why its bundled adapter could not run the library (then its
    properties are ``error``: ropecheck's failure, not the library's); ``interrupted``
    names the signal that stopped the run before every property ran.
    """

    name: str
    origin: str
    properties: list[PropertyResult] = field(default_factory=list)
    skipped: str = ""
    interrupted: str = ""

    @property
    def conforms(self) -> bool:
        return not self.interrupted and all(p.status in ("passed", "skipped") for p in self.properties)

    @property
    def not_judged(self) -> str:
        errors = [p.message for p in self.properties if p.status == "error" and "the library was not judged" in p.message]
        return errors[0] if errors else ""

    def to_json(self) -> dict:
        data = {"name": self.name, "conforms": self.conforms,
                "properties": [p.to_json() for p in self.properties], "origin": self.origin}
        if self.skipped:
            data["skipped"] = self.skipped
        if self.not_judged:
            data["not_judged"] = self.not_judged
        if self.interrupted:
            data["interrupted"] = self.interrupted
        return data


def device_skip_reason(spec: Spec, device: str) -> str:
    """Why ``spec`` cannot be checked on ``device`` here, or ""."""
    if device not in spec.devices:
        return f"the spec does not claim device {device!r} (devices = {list(spec.devices)})"
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
    return ""


def limits_for(profile: str, timeout: float | None) -> Limits:
    """The per-phase limits of a run: ``timeout`` CPU seconds, or the profile's default."""
    return Limits.for_timeout(DEFAULT_TIMEOUT.get(profile, 600.0) if timeout is None else timeout)


# ---------------------------------------------------------------- the pool of checking processes


def _child_env(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    user_path = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    # what the user's own PYTHONPATH was, absolute: a reproduce line carries it (runner.repro_line)
    env["ROPECHECK_USER_PYTHONPATH"] = os.pathsep.join(user_path)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + user_path)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONSAFEPATH="1", PYTHONDONTWRITEBYTECODE="1",
               HYPOTHESIS_STORAGE_DIRECTORY=str(state_dir / "hypothesis"))
    return env


def spec_job(spec: Spec) -> dict:
    """How a checking process rebuilds ``spec``."""
    return {"spec": spec.to_mapping(), "origin": spec.origin, "folder": spec.folder}


class Pool:
    """Checking processes for one run; closing it kills every one of them.

    ``preload`` imports each implementation before anything runs (a failed import is a
    usage error); the loaded processes are kept for the first run of their implementation.

    ``keep``: for callers that run an implementation a few properties at a time (the
    pytest plugin runs one per test item): a checking process that finishes its job
    cleanly is kept for the next job of the same implementation, as if one ``verify_all``
    ran them all, and after a hang the later jobs of that implementation and device get
    ``AFTER_HANG_TIMEOUT`` CPU seconds. A process that crashed, hung or garbled its channel
    is never kept.
    """

    def __init__(self, stop: Stop | None = None, fork: bool = False, keep: bool = False):
        self.stop = stop
        self.keep = keep
        self._hung: set[tuple[str, str]] = set()
        self._tmp = tempfile.TemporaryDirectory(prefix="ropecheck-")
        self.dir = Path(self._tmp.name)
        self.env = _child_env(self.dir)
        self._count = 0
        self._loaded: dict[str, Sandbox] = {}
        self._open: list[Sandbox] = []
        self._lock = threading.Lock()
        self.fork = fork and can_fork()
        if self.fork:
            from ropecheck import worker

            self._target = worker.forked(self.env)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            boxes, self._open = list(self._open), []
        for box in boxes:
            box.close()
        self._loaded.clear()
        self._tmp.cleanup()

    def check_stop(self) -> None:
        if self.stop is not None:
            self.stop.check()

    def wake_fd(self) -> int | None:
        return None if self.stop is None else self.stop.wake_fd

    def new_sandbox(self) -> Sandbox:
        """A fresh checking process: a new interpreter, or (``fork``) a fork of this process
        with torch and ropecheck already imported, started the same way otherwise."""
        with self._lock:
            self._count += 1
            log = self.dir / f"child-{self._count}.log"
        box = Sandbox([sys.executable, *WORKER], self.env, log, target=self._target if self.fork else None)
        with self._lock:
            self._open.append(box)
        return box

    def discard(self, box: Sandbox) -> None:
        box.close()
        with self._lock:
            if box in self._open:
                self._open.remove(box)

    def load(self, spec: Spec, limits: Limits) -> Sandbox:
        """A checking process with ``spec``'s callable imported; LoadError otherwise."""
        box = self.new_sandbox()
        box.send({"op": "load", **spec_job(spec)})
        watch = Watch(box, limits)
        where = f"{spec.origin}: key 'callable': importing {spec.callable!r}"
        while True:
            self.check_stop()
            events, problem = box.read_events()
            for event in events:
                if event["event"] == "loaded":
                    return box
                if event["event"] == "load_error":
                    self.discard(box)
                    raise LoadError(event["message"])
            if problem:
                self.discard(box)
                raise LoadError(f"{where}: {problem}")
            if box.poll_status() is not None:
                reason = box.death_reason()
                self.discard(box)
                raise LoadError(f"{where} stopped the checking process: {reason}")
            overrun = watch.check()
            if overrun:
                self.discard(box)
                raise LoadError(f"{where} did not finish: {overrun.describe()}")
            wait_any([box], self.wake_fd(), TICK_S)

    def preload(self, specs: list[Spec], limits: Limits, jobs: int = 1) -> None:
        """Load every spec before any property runs, up to ``jobs`` at a time; the failure
        of the first spec (in order) that fails raises."""
        todo = [spec for spec in dict((s.name, s) for s in specs).values() if spec.name not in self._loaded]
        outcomes = _in_parallel([lambda spec=spec: self.load(spec, limits) for spec in todo], jobs, self.stop)
        for spec, (box, _) in zip(todo, outcomes):
            if box is not None:
                self._loaded[spec.name] = box
        for box, exc in outcomes:
            if isinstance(exc, Interrupted):
                raise exc
        for box, exc in outcomes:
            if exc is not None:
                raise exc

    def take(self, spec: Spec, limits: Limits) -> Sandbox:
        """The preloaded process of ``spec`` (once), else a freshly loaded one."""
        with self._lock:
            box = self._loaded.pop(spec.name, None)
        return box if box is not None else self.load(spec, limits)

    def run_unit(self, spec: Spec, spec_ref: str, profile: str, device: str, names: list[str], limits: Limits,
                 on_result: Callable[[PropertyResult], None]) -> dict[str, PropertyResult]:
        """Run ``names`` on ``device``, restarting after each crash, hang or garbled channel."""
        done: dict[str, PropertyResult] = {}
        remaining = list(names)
        box: Sandbox | None = None
        clean = False
        if self.keep and (spec.name, device) in self._hung:
            limits = Limits.for_timeout(min(limits.cpu_s, AFTER_HANG_TIMEOUT))
        try:
            while remaining:
                if box is None:
                    try:
                        box = self.take(spec, limits)
                    except LoadError as exc:  # loaded once, failed now: the property next in line pays
                        self._record(done, remaining, remaining[0], "failed", f"not run: {exc}", device, on_result)
                        continue
                box.send({"op": "run", "properties": remaining, "profile": profile, "device": device,
                          "spec_ref": spec_ref, **spec_job(spec)})
                blamed, status, why, hang = self._follow(box, device, remaining, done, limits, on_result)
                if blamed is None:
                    clean = True
                    break
                self._record(done, remaining, blamed, status, why, device, on_result)
                self.discard(box)
                box = None
                if hang:
                    limits = Limits.for_timeout(min(limits.cpu_s, AFTER_HANG_TIMEOUT))
                    if self.keep:
                        self._hung.add((spec.name, device))
                elif status == "error":  # too slow to judge here: the rest would be too
                    for name in list(remaining):
                        self._record(done, remaining, name, "error",
                                     f"not run: the checking process was too slow to judge on this machine "
                                     f"({blamed}: {why})", device, on_result)
        finally:
            if box is not None and not (clean and self.keep and self._keep(spec, box)):
                self.discard(box)
        return done

    def _keep(self, spec: Spec, box: Sandbox) -> bool:
        """Hold ``box`` (clean, ``spec`` loaded) for the next job of ``spec``; False when
        one is held already."""
        with self._lock:
            if spec.name in self._loaded or box.poll_status() is not None:
                return False
            self._loaded[spec.name] = box
            return True

    def recheck(self, spec: Spec, row: PropertyResult, limits: Limits) -> bool | None:
        """Run a failed row's counterexample alone in a fresh process: True when it passes
        there, False when it fails there too, None when that could not be told."""
        case = case_text(row.reproduce)
        if case is None:
            return None
        try:
            box = self.load(spec, limits)
        except LoadError:
            return None
        try:
            box.send({"op": "recheck", "property": row.name, "case": case, "device": row.device, **spec_job(spec)})
            watch = Watch(box, limits)
            while True:
                self.check_stop()
                events, problem = box.read_events()
                for event in events:
                    if event.get("event") == "rechecked":
                        return bool(event.get("passed"))
                if problem or box.poll_status() is not None or watch.check():
                    return None
                wait_any([box], self.wake_fd(), TICK_S)
        finally:
            self.discard(box)

    @staticmethod
    def _record(done, remaining, name, status, why, device, on_result) -> None:
        done[name] = PropertyResult(name, status, why, device=device)
        remaining.remove(name)
        on_result(done[name])

    def _follow(self, box: Sandbox, device: str, remaining: list[str], done: dict[str, PropertyResult],
                limits: Limits, on_result) -> tuple[str | None, str, str, bool]:
        """Read events until the job finishes or goes wrong.

        Returns (the property to blame or None when finished, its status, why, whether it hung).
        The property to blame is the one in flight, or the next one when none has started.
        """
        watch = Watch(box, limits)
        while True:
            self.check_stop()
            events, problem = box.read_events()
            for event in events:
                kind = event.pop("event")
                if kind in ("start", "result"):
                    watch = Watch(box, limits)
                if kind == "result" and event.get("name") in remaining:
                    if isinstance(event.get("worst_ratio"), str):
                        event["worst_ratio"] = float(event["worst_ratio"])
                    done[event["name"]] = PropertyResult(**event)
                    remaining.remove(event["name"])
                    on_result(done[event["name"]])
                elif kind == "finished" or not remaining:
                    return None, "", "", False
            if problem:
                return remaining[0], "failed", problem, False
            if box.poll_status() is not None:
                box.read_events()
                return (remaining[0], "failed", box.death_reason(), False) if remaining else (None, "", "", False)
            overrun = watch.check()
            if overrun:
                return remaining[0], "failed" if overrun.is_hang else "error", overrun.describe(), overrun.is_hang
            wait_any([box], self.wake_fd(), TICK_S)


# ---------------------------------------------------------------- verifying


@dataclass
class _Unit:
    result: ImplementationResult
    spec: Spec
    ref: str
    device: str
    names: list[str]
    rows: dict[str, PropertyResult] = field(default_factory=dict)


def _plan(targets: list[tuple[Spec, str]], device: str | None, names: list[str]) -> tuple[list[ImplementationResult], list]:
    """Results in target order, and per (implementation, device) either a unit to run or
    its skipped rows."""
    results, plan = [], []
    for spec, ref in targets:
        result = ImplementationResult(spec.name, spec.origin)
        results.append(result)
        missing = spec.missing_requirements()
        if missing:
            result.skipped = f"requires {', '.join(missing)}, which cannot be imported here"
            plan.append((result, [PropertyResult(n, "skipped", result.skipped) for n in names]))
            continue
        for dev in ([device] if device else list(spec.devices)):
            reason = device_skip_reason(spec, dev)
            if reason:
                plan.append((result, [PropertyResult(n, "skipped", reason, device=dev) for n in names]))
            else:
                plan.append((result, _Unit(result, spec, ref, dev, list(names))))
    return results, plan


def _assemble(results: list[ImplementationResult], plan: list) -> None:
    for result in results:
        result.properties = []
    for result, item in plan:
        if isinstance(item, _Unit):
            result.properties += [item.rows[n] for n in item.names if n in item.rows]
        else:
            result.properties += item
    for result in results:
        if result.properties and all(p.status == "skipped" for p in result.properties) and not result.skipped:
            result.skipped = result.properties[0].message


def usable_cores() -> int:
    """The cores this process may run on (``verify -j``'s default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cost(name: str) -> int:
    """A property's relative cost: the examples it draws (``weight`` times the profile's)."""
    return BY_NAME[name].weight if name in BY_NAME else 1


def split_names(names: list[str], parts: int) -> list[list[str]]:
    """``names`` in at most ``parts`` groups of about equal cost (heaviest first into the
    lightest group), each group in the catalogue's order; deterministic."""
    parts = max(1, min(parts, len(names)))
    groups: list[list[str]] = [[] for _ in range(parts)]
    for name in sorted(names, key=lambda n: (-_cost(n), names.index(n))):
        min(groups, key=lambda g: (sum(map(_cost, g)), groups.index(g))).append(name)
    return [sorted(g, key=names.index) for g in groups if g]


def _tasks(units: list[_Unit], jobs: int) -> list[tuple[_Unit, list[str]]]:
    """What each checking process runs: one implementation (on one device) per process,
    as with one job, unless there are fewer implementations than jobs: then the properties
    of each are split over ``jobs // len(units)`` processes (same split for the same
    targets and ``jobs``)."""
    per_unit = max(1, jobs // max(1, len(units)))
    return [(unit, group) for unit in units
            for group in split_names([n for n in unit.names if n not in unit.rows], per_unit)]


def _in_parallel(calls: list[Callable], jobs: int, stop: Stop | None) -> list[tuple[object, BaseException | None]]:
    """Run ``calls`` on up to ``jobs`` threads (each drives its own checking process);
    (value, None) or (None, exception) per call, in order. The calling thread waits in short
    ticks, so a signal handler (main thread only) can request a stop meanwhile."""
    if jobs <= 1 or len(calls) <= 1:  # one after another, up to the first failure
        out: list[tuple[object, BaseException | None]] = []
        for call in calls:
            try:
                out.append((call(), None))
            except Exception as exc:  # noqa: BLE001 - returned to the caller in order
                out.append((None, exc))
                break
        return out
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ropecheck-job") as pool:
        futures = [pool.submit(call) for call in calls]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=TICK_S, return_when=FIRST_EXCEPTION)
            if stop is not None and stop.signum is not None:
                for future in pending:
                    future.cancel()
    out = []
    for future in futures:
        if future.cancelled():
            out.append((None, Interrupted(stop.signum if stop is not None and stop.signum else signal.SIGINT)))
        elif future.exception() is not None:
            out.append((None, future.exception()))
        else:
            out.append((future.result(), None))
    return out


def verify_all(targets: list[tuple[Spec, str]], profile: str = "ci", device: str | None = None,
               timeout: float | None = None, names: list[str] | None = None,
               on_result: Callable[[ImplementationResult, PropertyResult], None] | None = None,
               stop: Stop | None = None, pool: Pool | None = None, jobs: int = 1,
               fork: bool = False) -> list[ImplementationResult]:
    """Check every (spec, reference) target; results in target order.

    ``fork``: start checking processes by forking this process (``Pool``), which must
    then be ropecheck's own command (single-threaded, nothing foreign imported).
    ``jobs``: checking processes run at the same time (each with one torch thread);
    implementations run side by side, and when there are fewer of them than jobs, each
    one's properties are split over several processes (``_tasks``). Rows, their order and
    reproduce lines do not depend on ``jobs`` (for implementations whose answers do not
    depend on earlier calls; ``call_history`` judges those that do).

    Raises ``LoadError`` (before any property runs) when a callable cannot be imported.
    When ``stop`` is requested, returns what finished with the rest marked not run and
    ``interrupted`` set on every implementation that did not complete.
    """
    names = [p.name for p in PROPERTIES] if names is None else list(names)
    limits = limits_for(profile, timeout)
    results, plan = _plan(targets, device, names)
    units = [item for _, item in plan if isinstance(item, _Unit)]
    notify = on_result or (lambda result, row: None)
    owned = pool is None
    pool = Pool(stop, fork=fork) if pool is None else pool
    lock = threading.Lock()
    rechecks = {id(unit): 0 for unit in units}

    def runner(unit: _Unit, group: list[str]) -> Callable[[], None]:
        def arrived(row: PropertyResult) -> None:
            with lock:
                again = row.status == "failed" and bool(row.reproduce) and rechecks[id(unit)] < RECHECKS
                rechecks[id(unit)] += again
            if again:
                _label_history(row, pool.recheck(unit.spec, row, limits))
            with lock:
                unit.rows[row.name] = row
                notify(unit.result, row)

        return lambda: pool.run_unit(unit.spec, unit.ref, profile, unit.device, group, limits, arrived)

    try:
        pool.preload([u.spec for u in units], limits, jobs)
        for unit in units:  # rows the spec alone decides: the same however the rest is run
            for name in unit.names:
                row = not_applicable(BY_NAME[name], unit.spec, unit.device) if name in BY_NAME else None
                if row is not None:
                    unit.rows[name] = row
                    notify(unit.result, row)
        outcomes = _in_parallel([runner(unit, group) for unit, group in _tasks(units, jobs)], jobs, stop)
        for _, exc in outcomes:
            if exc is not None:
                raise exc
    except Interrupted as stopped:
        _mark_interrupted(units, stopped.signum)
    finally:
        if owned:
            pool.close()
    _assemble(results, plan)
    return results


RECHECKS = 4
"""Failed properties per implementation and device whose counterexample is run again alone
in a fresh process (each costs a process start)."""

HISTORY_LABEL = "depends on call history"


def case_text(reproduce: str) -> str | None:
    """The ``--case`` argument of a reproduce line, or None."""
    try:
        words = shlex.split(reproduce)
    except ValueError:
        return None
    return words[words.index("--case") + 1] if "--case" in words[:-1] else None


def _label_history(row: PropertyResult, passed_alone: bool | None) -> None:
    """Say so when a failure does not happen in a fresh process."""
    if not passed_alone:
        return
    if row.name == "call_history":
        row.message = (f"{HISTORY_LABEL}: {row.message}. The last call alone, in a fresh process, is right; "
                       "the reproduce line replays the earlier calls")
    else:
        row.message = (f"{HISTORY_LABEL}: {row.message}. This case passes alone in a fresh process: the failure "
                       "needs calls made before it in the same process (a cache or other state kept between "
                       "calls); see the call_history property for a replayable sequence")


def _mark_interrupted(units: list[_Unit], signum: int) -> None:
    name = signal.Signals(signum).name
    for unit in units:
        missing = [n for n in unit.names if n not in unit.rows]
        for n in missing:
            unit.rows[n] = PropertyResult(n, "skipped", f"not run: the run was interrupted ({name})", device=unit.device)
        if missing:
            unit.result.interrupted = name


def verify(spec: Spec, spec_ref: str, profile: str = "ci", device: str | None = None,
           timeout: float | None = None, names: list[str] | None = None,
           isolate: bool = True) -> ImplementationResult:
    """Check ``spec``'s implementation on each claimed device (or only ``device``).

    ``isolate=False`` runs in this process (fast, for the project's own tests of
    well-behaved code). Isolated, a callable that cannot be imported gives every property
    a failure naming the reason (use ``verify_all`` to get the ``LoadError`` instead).
    """
    if not isolate:
        return _verify_here(spec, spec_ref, profile, device, names)
    try:
        return verify_all([(spec, spec_ref)], profile=profile, device=device, timeout=timeout, names=names)[0]
    except LoadError as exc:
        names = [p.name for p in PROPERTIES] if names is None else names
        result = ImplementationResult(spec.name, spec.origin)
        result.properties = [PropertyResult(n, "failed", f"not run: {exc}", device=d)
                             for d in ([device] if device else list(spec.devices)) for n in names]
        return result


def _verify_here(spec: Spec, spec_ref: str, profile: str, device: str | None,
                 names: list[str] | None) -> ImplementationResult:
    names = [p.name for p in PROPERTIES] if names is None else names
    results, plan = _plan([(spec, spec_ref)], device, names)
    settings = profiles.get(profile)
    for _, unit in plan:
        if isinstance(unit, _Unit):
            subject = Subject(fn=spec.load_callable(), spec=spec, device=unit.device)
            unit.rows = {n: run_property(BY_NAME[n], subject, settings, spec_ref, profile=profile) for n in names}
    _assemble(results, plan)
    return results[0]


def identify(target: str, head_dim: int, device: str, timeout: float | None = None,
             stop: Stop | None = None, signature: str = "x", packed: bool = False,
             max_position: int | None = None) -> dict:
    """``ropecheck identify`` in a checking process: the worker's ``identified`` event
    (``json``, ``rows``, ``notes``, ``message``). Raises ``LoadError`` when ``target``
    cannot be imported there; a callable that raises, dies or hangs while probed is
    "not explained" with the reason. ``max_position``: the callable is never handed a
    position >= it (``identify.identify``)."""
    limits = limits_for("ci", timeout)
    with Pool(stop) as pool:
        box = pool.new_sandbox()
        box.send({"op": "identify", "target": target, "head_dim": head_dim, "device": device,
                  "signature": signature, "packed": packed, "max_position": max_position})
        watch, loaded = Watch(box, limits), False
        while True:
            pool.check_stop()
            events, problem = box.read_events()
            for event in events:
                if event["event"] == "identified":
                    return event
                if event["event"] == "load_error":
                    raise LoadError(event["message"])
                if event["event"] == "loaded":
                    watch, loaded = Watch(box, limits), True
            why = problem
            if not why and box.poll_status() is not None:
                why = box.death_reason()
            overrun = None if why else watch.check()
            if overrun:
                why = overrun.describe()
            if why and not loaded:
                raise LoadError(f"{target!r}: importing it did not finish: {why}")
            if why:
                return {"json": {**dict.fromkeys(JSON_KEYS), "explained": False, "max_position": max_position,
                                 "not_probed": [], "rotary_width": []}, "rows": [], "notes": [],
                        "message": f"not a RoPE it can explain: probing it failed: {why}"}
            wait_any([box], pool.wake_fd(), TICK_S)


def precision_sweep(spec: Spec, positions: list[int], device: str = "cpu", timeout: float | None = None,
                    stop: Stop | None = None, pool: "Pool | None" = None) -> list[dict]:
    """``ropecheck.precision.spec_sweep`` of ``spec``'s callable in a checking process (the
    report's live precision horizon of an implementation). Raises ``LoadError`` when the
    callable cannot be imported there; a process that dies, hangs or garbles its channel
    while measuring gives one row whose ``message`` says so."""
    limits = limits_for("ci", timeout)
    own = pool is None
    pool = Pool(stop, fork=True) if own else pool
    try:
        box = pool.load(spec, limits)
        try:
            box.send({"op": "precision", "positions": list(positions), "device": device, **spec_job(spec)})
            watch = Watch(box, limits)
            while True:
                pool.check_stop()
                events, problem = box.read_events()
                for event in events:
                    if event["event"] == "precision":
                        return event["rows"]
                why = problem or (box.death_reason() if box.poll_status() is not None else "")
                overrun = None if why else watch.check()
                if overrun:
                    why = overrun.describe()
                if why:
                    return [dict(dtype=d, position=None, worst_ratio=None, worst_error=None,
                                 message=f"measuring it failed: {why}") for d in spec.dtypes]
                wait_any([box], pool.wake_fd(), TICK_S)
        finally:
            pool.discard(box)
    finally:
        if own:
            pool.close()
