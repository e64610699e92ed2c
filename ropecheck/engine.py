"""Checking whole implementations, each in its own process with a time limit.

One child process (``ropecheck.worker``) per implementation and device runs the
properties in turn and records each result as soon as it has it. If the child raises
out, hangs past the time limit or dies (segfault, ``os._exit``), the property in flight
is reported as failing with that reason, the results already recorded are kept, and a
fresh child goes on with the remaining properties. After a hang, later properties get a
shorter limit, so an implementation that always hangs still ends in bounded time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ropecheck import profiles
from ropecheck.properties import BY_NAME, PROPERTIES, Subject
from ropecheck.runner import PropertyResult, run_property
from ropecheck.spec import Spec

DEFAULT_TIMEOUT = {"ci": 120.0, "dev": 600.0, "thorough": 3600.0}
AFTER_HANG_TIMEOUT = 15.0
POLL_S = 0.05


@dataclass
class ImplementationResult:
    """The verdict on one implementation: every property on every device."""

    name: str
    origin: str
    properties: list[PropertyResult] = field(default_factory=list)
    skipped: str = ""

    @property
    def conforms(self) -> bool:
        return all(p.status in ("passed", "skipped") for p in self.properties)

    def to_json(self) -> dict:
        data = {"name": self.name, "conforms": self.conforms,
                "properties": [p.to_json() for p in self.properties], "origin": self.origin}
        if self.skipped:
            data["skipped"] = self.skipped
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


def verify(spec: Spec, spec_ref: str, profile: str = "ci", device: str | None = None,
           timeout: float | None = None, names: list[str] | None = None,
           isolate: bool = True) -> ImplementationResult:
    """Check ``spec``'s implementation on each claimed device (or only ``device``)."""
    names = [p.name for p in PROPERTIES] if names is None else names
    result = ImplementationResult(spec.name, spec.origin)
    missing = spec.missing_requirements()
    if missing:
        result.skipped = f"requires {', '.join(missing)}, which cannot be imported here"
        result.properties = [PropertyResult(n, "skipped", result.skipped) for n in names]
        return result
    limit = DEFAULT_TIMEOUT.get(profile, 600.0) if timeout is None else timeout
    for dev in ([device] if device else list(spec.devices)):
        reason = device_skip_reason(spec, dev)
        if reason:
            result.properties += [PropertyResult(n, "skipped", reason, device=dev) for n in names]
        elif isolate:
            result.properties += _run_isolated(spec, spec_ref, profile, dev, names, limit)
        else:
            result.properties += _run_here(spec, spec_ref, profile, dev, names)
    if result.properties and all(p.status == "skipped" for p in result.properties):
        result.skipped = result.properties[0].message
    return result


def _run_here(spec: Spec, spec_ref: str, profile: str, device: str, names: list[str]) -> list[PropertyResult]:
    """In this process: fast, for the project's own tests of well-behaved code."""
    subject = Subject(fn=spec.load_callable(), spec=spec, device=device)
    settings = profiles.get(profile)
    return [run_property(BY_NAME[n], subject, settings, spec_ref) for n in names]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


def _run_isolated(spec: Spec, spec_ref: str, profile: str, device: str, names: list[str],
                  limit: float) -> list[PropertyResult]:
    done: dict[str, PropertyResult] = {}
    remaining = list(names)
    with tempfile.TemporaryDirectory(prefix="ropecheck-") as tmp:
        attempt = 0
        while remaining:
            attempt += 1
            in_flight, why, limit, started_any = _one_child(spec, spec_ref, profile, device, remaining, limit,
                                                            Path(tmp), attempt, done)
            remaining = [n for n in remaining if n not in done]
            if not started_any and remaining:  # died before starting any property
                for n in remaining:
                    done[n] = PropertyResult(n, "failed", f"not run: {why}", device=device)
                break
            if in_flight is not None and in_flight not in done:
                done[in_flight] = PropertyResult(in_flight, "failed", why, device=device)
                remaining.remove(in_flight)
    return [done[n] for n in names]


def _one_child(spec: Spec, spec_ref: str, profile: str, device: str, names: list[str], limit: float,
               tmp: Path, attempt: int, done: dict[str, PropertyResult]) -> tuple[str | None, str, float, bool]:
    """Run one child over ``names``.

    Returns (property in flight when it stopped or None, why it stopped, the next time
    limit, whether it started any property).
    """
    out = tmp / f"events-{attempt}.jsonl"
    job = tmp / f"job-{attempt}.json"
    log = tmp / f"child-{attempt}.log"
    job.write_text(json.dumps({"spec": spec.to_mapping(), "origin": spec.origin, "folder": spec.folder,
                               "spec_ref": spec_ref, "profile": profile, "device": device,
                               "properties": names, "out": str(out)}))
    out.touch()
    with open(log, "wb") as log_handle:
        proc = subprocess.Popen([sys.executable, "-m", "ropecheck.worker", str(job)], stdout=log_handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_child_env(),
                                start_new_session=True)
        state = {"in_flight": None, "started": time.monotonic(), "started_any": False}
        offset, why = 0, ""
        while True:
            offset = _apply(out, offset, state, done)
            if proc.poll() is not None:
                offset = _apply(out, offset, state, done)
                why = _death_reason(proc.returncode, log)
                break
            if state["in_flight"] is not None and time.monotonic() - state["started"] > limit:
                _kill(proc)
                why = f"hung: no result within the {limit:.0f} s time limit (process killed)"
                limit = min(limit, AFTER_HANG_TIMEOUT)
                break
            time.sleep(POLL_S)
    return state["in_flight"], why, limit, state["started_any"]


def _apply(path: Path, offset: int, state: dict, done: dict[str, PropertyResult]) -> int:
    """Read the child's new events: record results, track the property in flight."""
    offset, events = _read_events(path, offset)
    for event in events:
        if event["event"] == "start":
            state.update(in_flight=event["name"], started=time.monotonic(), started_any=True)
        elif event["event"] == "result":
            fields = {k: v for k, v in event.items() if k != "event"}
            if isinstance(fields.get("worst_ratio"), str):
                fields["worst_ratio"] = float(fields["worst_ratio"])
            done[fields["name"]] = PropertyResult(**fields)
            state["in_flight"] = None
    return offset


def _read_events(path: Path, offset: int) -> tuple[int, list[dict]]:
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # only whole lines
    events = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return offset + end, events


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _death_reason(returncode: int, log: Path) -> str:
    tail = _tail(log)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        what = f"crashed the interpreter ({name})"
    elif returncode == 0:
        what = "the checking process stopped early without an error"
    else:
        what = f"the checking process exited with code {returncode}"
    return f"{what}{': ' + tail if tail else ''}"


def _tail(log: Path, lines: int = 3, width: int = 400) -> str:
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return ""
    last = [line for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last)[-width:]
