"""The installed third-party versions beside the pins of ``constraints/ci.txt``.

    python constraints/drift.py            # each library: pinned, installed (tox -e upstream)
    python constraints/drift.py --newest   # ... and the newest release the package index offers
    python constraints/drift.py --freeze   # this environment as a new constraints file (stdout)

The libraries are those of pyproject's ``thirdparty`` extra (with the distributions their
own extras pull in, e.g. ``mlx-cpu``) and torch; every other installed package that differs
from its pin is listed after them. It reports and exits 0: the adapter tests and ``ropecheck
verify`` that ``tox -e upstream`` runs next are what judge the drift. Standard library only.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "constraints" / "ci.txt"
NOT_PINNED = {"ropecheck", "pip", "setuptools", "wheel", "distribute"}
"""Never in the constraints file: ropecheck itself and the installers."""

HEADER = """\
# The third-party versions ropecheck's CI was last tested with (torch stays 2.13.0, the CPU
# build). tox's py3, conformance, thirdparty and bench-verify envs install under this file
# (PIP_CONSTRAINT in tox.ini); pyproject.toml keeps open ranges for users.
#
# Produced by `python constraints/drift.py --freeze > constraints/ci.txt`, run with the
# python of an environment holding ropecheck[test,plots,thirdparty] in which
# `pytest tests/adapters` passed. It is updated on purpose, in a commit of its own: run
# `tox -e upstream` (the drift canary: the newest releases), fix what it finds, and when it
# passes, regenerate this file with .tox/upstream/bin/python and commit it alone.
"""


def canonical(name: str) -> str:
    """PEP 503 name: ``Rotary_Embedding.Torch`` -> ``rotary-embedding-torch``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = PINS) -> dict[str, str]:
    """``name==version`` lines of a constraints file, by canonical name; comments skipped."""
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if not found:
            raise ValueError(f"{path.name}:{number}: expected name==version, got {line!r}")
        pins[canonical(found.group(1))] = found.group(2)
    return pins


def requirement(text: str) -> tuple[str, list[str]]:
    """``"mlx[cpu]>=0.20; sys_platform == 'linux'"`` -> ``("mlx", ["cpu"])``."""
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", text)
    extras = [e.strip() for e in (found.group(2) or "").split(",") if e.strip()]
    return canonical(found.group(1)), extras


def extra_requirements(pyproject: Path, extras: tuple[str, ...]) -> list[str]:
    """The requirement strings of ``extras`` (and the base dependencies if "" is among them)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    found = list(project["dependencies"]) if "" in extras else []
    for extra in extras:
        found += project.get("optional-dependencies", {}).get(extra, []) if extra else []
    return found


def libraries(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """torch and the thirdparty extra's distributions, with what their own extras add."""
    names = ["torch"]
    for text in extra_requirements(pyproject, ("thirdparty",)):
        name, extras = requirement(text)
        names.append(name)
        for dep in _installed_requires(name):
            marker = dep.split(";", 1)[1] if ";" in dep else ""
            if any(re.search(rf"extra\s*==\s*['\"]{re.escape(e)}['\"]", marker) for e in extras):
                names.append(requirement(dep)[0])
    return list(dict.fromkeys(names))


def _installed_requires(name: str) -> list[str]:
    try:
        return importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        return []


def installed() -> dict[str, str]:
    """Every distribution in this environment, by canonical name (first on sys.path wins)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        found.setdefault(canonical(dist.metadata["Name"]), dist.version)
    return found


def newest(name: str) -> str:
    """The newest release the configured package index offers (``pip index versions``), or
    what pip said instead."""
    done = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name],
                          capture_output=True, text=True)
    found = re.search(rf"^\S+ \(([^)]+)\)", done.stdout, re.M)
    return found.group(1) if found else "? (" + (done.stderr.strip().splitlines() or ["no answer"])[-1] + ")"


def release(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13.0``: the local label names the build, not the release."""
    return version.split("+", 1)[0]


def report(pins: dict[str, str], here: dict[str, str], names: list[str], with_newest: bool) -> list[str]:
    """The table printed by default: one row per library (DRIFT: installed, not the pinned
    release), then the other installed packages that are not at their pin."""
    rows = [("library", "pinned", "installed", *(["newest"] if with_newest else []), "")]
    for name in names:
        pinned, now = pins.get(name, "-"), here.get(name, "not installed")
        mark = "" if release(now) == release(pinned) or name not in here else "DRIFT"
        latest = [newest(name)] if with_newest else []
        if latest and now != "not installed" and release(latest[0]) != release(now):
            mark = (mark + " not the newest").strip()
        rows.append((name, pinned, now, *latest, mark))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    others = sorted(n for n in here if n not in names and n not in NOT_PINNED
                    and release(pins.get(n, "")) != release(here[n]))
    moved = [f"{n} {pins.get(n, '(not pinned)')} -> {here[n]}" for n in others]
    lines.append("other packages that differ from the pins: " + (", ".join(moved) if moved else "none"))
    return lines


def freeze(here: dict[str, str]) -> str:
    """This environment as a constraints file: the header, then sorted ``name==release`` lines."""
    lines = [f"{n}=={release(v)}" for n, v in sorted(here.items()) if n not in NOT_PINNED]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--newest", action="store_true", help="also ask the package index for each library's newest release")
    parser.add_argument("--freeze", action="store_true", help="print this environment as a constraints file")
    args = parser.parse_args(argv)
    if args.freeze:
        sys.stdout.write(freeze(installed()))
        return 0
    print(f"python {sys.version.split()[0]}; pins: {PINS.relative_to(ROOT)}")
    print("\n".join(report(read_pins(), installed(), libraries(), args.newest)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
