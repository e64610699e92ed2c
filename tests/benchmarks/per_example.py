"""ropecheck's own CPU per example (issue 13): ``engine.verify(spec, ref, profile, isolate=False)``
of one built-in implementation in this process, with

- ``examples``: the examples Hypothesis ran (``PropertyResult.examples`` summed; the fixed
  cases of ``Property.examples`` are not examples);
- ``total_s``: the process CPU (``time.process_time``: every thread, never wall-clock, so a
  loaded machine does not inflate it much) of the whole verify;
- ``implementation_s``: CPU inside the implementation's calls;
- ``checks_s``: CPU inside the properties' checks, the implementation's calls taken out
  (building inputs, the oracle, the tolerance model, the property's own code);
- ``engine_s``: the rest (Hypothesis's engine and the generation of the cases);
- ``own_ms_per_example``: (total - implementation) / examples, in milliseconds.

Run as a script for a report (``--cprofile FILE`` also writes a cProfile top list)::

    PYTHONPATH=. python tests/benchmarks/per_example.py half-split --profile ci
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import functools
import io
import json
import os
import platform
import pstats
import time
from unittest import mock

import torch

from ropecheck import engine, worker
from ropecheck.registry import builtin_specs
from ropecheck.spec import Spec


def builtin(name: str) -> Spec:
    return [s for s in builtin_specs() if s.name == name][0]


def _timed(fn, box: list):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            box[0] += time.process_time() - start
    return timed


def measure(name: str = "half-split", profile: str = "ci", names: list[str] | None = None,
            profiler: cProfile.Profile | None = None) -> dict:
    """One in-process verify of built-in ``name``; the figures above, and the verdict rows."""
    worker.prepare_checking_process()  # as a checking process forked by `ropecheck verify` starts: one thread, gc frozen
    spec = builtin(name)
    implementation, checks = [0.0], [0.0]
    load = Spec.load_callable

    def loader(self):
        return _timed(load(self), implementation)

    timed_props = {n: dataclasses.replace(p, check=_timed(p.check, checks)) for n, p in engine.BY_NAME.items()}
    with mock.patch.object(Spec, "load_callable", loader), mock.patch.dict(engine.BY_NAME, timed_props):
        if profiler is not None:
            profiler.enable()
        start = time.process_time()
        result = engine.verify(spec, spec.name, profile=profile, device="cpu", isolate=False, names=names)
        total = time.process_time() - start
        if profiler is not None:
            profiler.disable()
    examples = sum(p.examples for p in result.properties)
    return {
        "implementation": name, "profile": profile, "examples": examples,
        "per_property": {p.name: p.examples for p in result.properties},
        "statuses": {p.name: p.status for p in result.properties},
        "total_s": total, "implementation_s": implementation[0], "checks_s": checks[0] - implementation[0],
        "engine_s": total - checks[0],
        "own_ms_per_example": 1000 * (total - implementation[0]) / max(examples, 1),
        "conforms": result.conforms,
    }


def header() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    return (f"date {datetime.datetime.now().isoformat(timespec='seconds')}; machine {platform.node()} "
            f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs); load average "
            f"{' '.join(f'{x:.2f}' for x in load)}; torch {torch.__version__}, 1 thread; CPU is process time")


def profile_text(name: str = "half-split", profile: str = "ci", top: int = 40) -> str:
    """A report: the figures, then cProfile's top list by own time and by cumulative time."""
    profiler = cProfile.Profile()
    figures = measure(name, profile, profiler=profiler)
    out = io.StringIO()
    out.write(f"# ropecheck verify {name} --profile {profile}, in process, under cProfile\n# {header()}\n")
    out.write(f"# examples {figures['examples']}; CPU under cProfile: total {figures['total_s']:.2f} s, "
              f"implementation {figures['implementation_s']:.2f} s, checks without it {figures['checks_s']:.2f} s, "
              f"Hypothesis and generation {figures['engine_s']:.2f} s\n\n")
    for order in ("tottime", "cumulative"):
        out.write(f"## top {top} by {order}\n")
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="half-split")
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cprofile", help="also write a cProfile report to this file")
    args = parser.parse_args()
    print("#", header())
    for _ in range(args.rounds):
        figures = measure(args.name, args.profile)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    if args.cprofile:
        with open(args.cprofile, "w") as f:
            f.write(profile_text(args.name, args.profile))


if __name__ == "__main__":
    main()
