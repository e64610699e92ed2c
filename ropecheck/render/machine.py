"""Machine metadata, computed in one place: CPU and GPU names, cores, threads, torch and
python versions, ropecheck's version and commit, the date.

Used by the bench table (``metadata``: its columns), the conformance table (``device_name``
with the short CPU name) and the HTML report (``describe``: the live machine's line).
torch is imported inside the functions that need it.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import subprocess
from importlib import metadata as _dists
from pathlib import Path
from typing import Callable

from ropecheck import __version__

KEYS = ("device_name", "torch", "ropecheck", "commit", "date", "threads", "python")
"""The metadata columns of a bench table (docs/contract.md §3.5), in order."""


@functools.cache
def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo; elsewhere what ``platform`` knows (read once
    per process)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return short_cpu_name()


def short_cpu_name() -> str:
    """``platform.processor()`` or the architecture (``x86_64``): what conformance.csv and the
    HTML report have always recorded for a CPU (kept so their values do not change)."""
    return platform.processor() or platform.machine()


def gpu_name(device: str) -> str | None:
    """The CUDA device's name when ``device`` is cuda and one is available, else None."""
    import torch

    if device == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def device_name(device: str, cpu: Callable[[], str] = cpu_name) -> str:
    """The GPU's name on cuda, otherwise ``cpu()``."""
    return gpu_name(device) or cpu()


def cores() -> int | None:
    return os.cpu_count()


def threads() -> int:
    import torch

    return torch.get_num_threads()


def torch_version() -> str:
    import torch

    return torch.__version__


def python_version() -> str:
    return platform.python_version()


def commit(folder: str | os.PathLike | None = None) -> str:
    """The short git commit of ``folder``'s checkout (default: ropecheck's own), or ``unknown``."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=folder or Path(__file__).resolve().parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None; read from the package
    metadata, nothing imported."""
    try:
        return _dists.version(name)
    except _dists.PackageNotFoundError:
        return None


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that provide it: 0.17 s to read from every
    installed package's metadata here, so read once per process (a command names many specs)."""
    return _dists.packages_distributions()


def library_version(spec) -> str:
    """What code a spec's verdict is about, as ``dist==version``, read without importing it:
    the distribution of its first ``requires`` module, else of the top-level module of its
    ``callable``; a module that no installed distribution provides (an adapter file beside
    the spec) is ``module (local, commit C)`` with the git commit of the spec's folder, or
    ``module (local)`` outside a git checkout."""
    module = (spec.requires[0] if spec.requires else spec.callable.partition(":")[0]).split(".")[0]
    for dist in _module_distributions().get(module, []):
        version = distribution_version(dist)
        if version is not None:
            return f"{dist}=={version}"
    if spec.requires:
        return f"{module} (not installed)"
    found = commit(spec.folder) if spec.folder and os.path.isdir(spec.folder) else "unknown"
    return f"{module} (local)" if found == "unknown" else f"{module} (local, commit {found})"


def device_names(devices) -> dict[str, str]:
    """``{device: device_name(device)}`` for ``devices``: the ``devices`` of ``provenance``."""
    return {device: device_name(device) for device in devices}


def provenance(profile: str, derandomized: bool, devices) -> dict:
    """Where and with what a verdict was reached (``verify --json``'s ``provenance``): the
    versions of ropecheck (and its commit), torch, Hypothesis and Python, the profile and
    whether its examples are the same on every run, the name of each device, the date.
    torch is not imported (except to name a CUDA device)."""
    return {"ropecheck": __version__, "commit": commit(), "torch": distribution_version("torch"),
            "hypothesis": distribution_version("hypothesis"), "python": python_version(), "profile": profile,
            "seed": "derandomized" if derandomized else "random",
            "devices": device_names(devices),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def metadata(device: str) -> dict:
    """The bench table's machine columns (``KEYS``) for a run on ``device``."""
    return {"device_name": device_name(device), "torch": torch_version(), "ropecheck": __version__,
            "commit": commit(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "threads": threads(), "python": python_version()}


def describe() -> str:
    """Where the HTML report's live figures were computed: CPU / OS, Python, torch, today's date."""
    return (f"{short_cpu_name()}, {platform.system()} {platform.release()}, Python {python_version()}, "
            f"torch {torch_version()}, {datetime.date.today().isoformat()}")
