"""The pytest plugin (entry point ``pytest11``): run ropecheck from a library's own tests.

    pytest --ropecheck-spec specs/mine.toml [--ropecheck-spec NAME ...]
           [--ropecheck-profile ci|dev|thorough] [--ropecheck-device cpu|cuda]
           [--ropecheck-timeout S]
    pytest specs/mine.toml                                  # a .toml path given to pytest
    pytest 'specs/mine.toml::mine::oracle_agreement[cpu]'   # one item again

Collection: each spec becomes a collector, so every item is counted, listed by
``--collect-only`` and selected by ``-k`` / ``--deselect`` like any test. A spec file is a
``SpecFile`` (a ``pytest.File``) holding one ``Implementation`` collector named after the
spec, holding one ``RopecheckItem`` per (property, device), named ``PROPERTY[DEVICE]``::

    specs/mine.toml::mine::oracle_agreement[cpu]

The file part is the spec's path relative to pytest's rootdir (``../`` when it lies
outside). A registered name with no file (a built-in, an entry point) is rooted at
``ropecheck:built-in`` or ``ropecheck:entry-point`` instead of a path
(``ropecheck:built-in::half-split::oracle_agreement[cpu]``); pytest cannot be handed such
an id on its command line, so one of those items is selected with ``-k``. A ``.toml``
path on pytest's command line (with or without ``::`` parts) is read as a spec; the
targets of ``--ropecheck-spec`` that pytest was not given as paths are collected after
pytest's own arguments.

Running: an item runs only its own property (``engine.verify_all(names=[PROPERTY],
device=DEVICE)``) in a checking process of the session's ``engine.Pool``, with the
engine's isolation and time limits; the pool keeps an implementation's clean process for
its next item (``Pool(keep=True)``), and closes every process at the end. The item
passes, fails (with the cause, the counterexample and the reproduce line) or skips (a
property the spec rules out, a missing requirement or device). Every spec is read, and
every implementation imported in a checking process, when collection starts: a bad spec
or an import that fails is a usage error (exit 4). JUnit XML names the implementation in
``classname`` (``ropecheck.mine``) and the property in ``name`` (``oracle_agreement[cpu]``).

The plugin also registers ropecheck's Hypothesis profiles, so ``--hypothesis-profile ci``
works in any suite that has it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ropecheck import profiles


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ropecheck", "RoPE conformance (ropecheck)")
    group.addoption("--ropecheck-spec", action="append", default=[], metavar="SPEC",
                    help="a spec file, a folder of specs, or a registered name to verify (repeatable)")
    group.addoption("--ropecheck-profile", default="ci", choices=tuple(profiles.PROFILES),
                    help="Hypothesis profile for the properties (default: ci)")
    group.addoption("--ropecheck-device", default=None, choices=("cpu", "cuda"),
                    help="only this device (default: every device each spec claims)")
    group.addoption("--ropecheck-timeout", default=None, type=float, metavar="S",
                    help="time limit per property in seconds")


def pytest_configure(config: pytest.Config) -> None:
    profiles.register()
    config.pluginmanager.register(_JUnitNames(config), "ropecheck-junit-names")


class SpecUsageError(pytest.UsageError):
    pass


# ---------------------------------------------------------------- what the run checks


@dataclass
class _Targets:
    """The specs of this run: those with a file by its resolved path, the rest by root."""

    files: dict[Path, tuple[object, str]] = field(default_factory=dict)
    registered: dict[str, list[tuple[object, str]]] = field(default_factory=dict)

    def specs(self) -> list[tuple[object, str]]:
        return list(self.files.values()) + [t for group in self.registered.values() for t in group]


_TARGETS = pytest.StashKey[_Targets]()
_POOL = pytest.StashKey["object"]()


def _spec_path(spec) -> Path | None:
    """The file a spec was read from, or None (a built-in, an entry point)."""
    return Path(spec.folder) / Path(spec.origin).name if spec.folder else None


def _root(spec) -> str:
    return "ropecheck:built-in" if spec.origin.startswith("built-in") else "ropecheck:entry-point"


def _toml_args(config: pytest.Config) -> list[str]:
    """pytest's own arguments that name a .toml file (the part before ``::``)."""
    out = []
    for arg in config.args:
        path = arg.split("::", 1)[0]
        if path.endswith(".toml") and (config.invocation_params.dir / path).is_file():
            out.append(path)
    return out


def _resolve(config: pytest.Config) -> _Targets:
    """Read every spec of the run (a usage error when one is bad or two differ under one name)."""
    from ropecheck import registry
    from ropecheck.spec import SpecError

    targets = _Targets()
    by_name: dict[str, object] = {}
    for target in _toml_args(config) + list(config.getoption("--ropecheck-spec")):
        try:
            resolved = registry.resolve(target)
        except SpecError as exc:
            raise SpecUsageError(str(exc)) from None
        for spec, ref in resolved:
            other = by_name.setdefault(spec.name, spec)
            if other.to_mapping() != spec.to_mapping():
                raise SpecUsageError(f"{spec.origin}: key 'name': {spec.name!r} is also the name of "
                                     f"{other.origin}, a different spec; names are unique in a run")
            path = _spec_path(spec)
            if path is not None:
                targets.files.setdefault(path.resolve(), (spec, ref))
            elif all(s.name != spec.name for s, _ in targets.registered.get(_root(spec), [])):
                targets.registered.setdefault(_root(spec), []).append((spec, ref))
    return targets


def _pool(config: pytest.Config):
    """The session's checking processes (``ropecheck.engine.Pool``), closed at the end."""
    if _POOL not in config.stash:
        from ropecheck import engine

        config.stash[_POOL] = engine.Pool(keep=True)
    return config.stash[_POOL]


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Before collecting: validate the options, read every spec and import every
    implementation in a checking process, so that each problem is a usage error."""
    config = session.config
    timeout = config.getoption("--ropecheck-timeout")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise SpecUsageError(f"--ropecheck-timeout: expected a positive number of CPU seconds, got {timeout!r}")
    if not config.getoption("--ropecheck-spec") and not _toml_args(config):
        return
    from ropecheck import engine

    targets = _resolve(config)
    config.stash[_TARGETS] = targets
    try:  # imported in checking processes, never here: an import that exits or hangs is a usage error
        _pool(config).preload([s for s, _ in targets.specs() if not s.missing_requirements()],
                              engine.limits_for(config.getoption("--ropecheck-profile"), timeout))
    except engine.LoadError as exc:
        raise SpecUsageError(str(exc)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


# ---------------------------------------------------------------- collectors


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """A spec file pytest was given as a path (``pytest specs/mine.toml[::...]``)."""
    targets = parent.config.stash.get(_TARGETS, None)
    if targets is None or not parent.session.isinitpath(file_path):
        return None
    found = targets.files.get(file_path.resolve())
    if found is None:
        return None
    return SpecFile.from_parent(parent, path=file_path, nodeid=_file_nodeid(parent.config, file_path),
                                spec=found[0], ref=found[1])


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The session's own collectors, then those of the specs pytest was not given as paths."""
    outcome = yield
    targets = collector.config.stash.get(_TARGETS, None)
    report = outcome.get_result()
    if targets is None or not isinstance(collector, pytest.Session) or not report.passed:
        return
    for path, (spec, ref) in targets.files.items():
        if not any(collector.isinitpath(p) for p in (path, Path(spec.origin).absolute())):
            report.result.append(SpecFile.from_parent(collector, path=path, nodeid=_file_nodeid(collector.config, path),
                                                      spec=spec, ref=ref))
    for root, group in targets.registered.items():
        report.result.append(Registered.from_parent(collector, name=root, nodeid=root, specs=group))


def _file_nodeid(config: pytest.Config, path: Path) -> str:
    """A spec file's path relative to rootdir (with ``..`` outside it), ``/``-separated."""
    return os.path.relpath(path.absolute(), config.rootpath).replace(os.sep, "/")


class SpecFile(pytest.File):
    """One spec file: one ``Implementation``."""

    def __init__(self, *, spec, ref: str, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.ref = spec, ref

    def collect(self):
        yield Implementation.from_parent(self, name=self.spec.name, spec=self.spec, ref=self.ref)


class Registered(pytest.Collector):
    """The implementations registered by name with no file (``ropecheck:built-in``,
    ``ropecheck:entry-point``)."""

    def __init__(self, *, specs, **kwargs):
        super().__init__(**kwargs)
        self.specs = specs

    def collect(self):
        for spec, ref in self.specs:
            yield Implementation.from_parent(self, name=spec.name, spec=spec, ref=ref)


class Implementation(pytest.Collector):
    """One implementation: an item per (property, device), devices first, properties in
    catalogue order."""

    def __init__(self, *, spec, ref: str, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.ref = spec, ref

    def collect(self):
        from ropecheck.properties import PROPERTIES

        device = self.config.getoption("--ropecheck-device")
        for dev in ([device] if device else list(self.spec.devices)):
            for prop in PROPERTIES:
                # the id as a string, so pytest (9.x) reads [DEVICE] as a parametrization, as in
                # the ids it parses back (--lf, --nf, node ids on the command line)
                name = f"{prop.name}[{dev}]"
                yield RopecheckItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", spec=self.spec,
                                                ref=self.ref, prop=prop.name, device=dev)


# ---------------------------------------------------------------- items


class RopecheckItem(pytest.Item):
    """One property of one implementation on one device, run alone."""

    def __init__(self, *, spec, ref: str, prop: str, device: str, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.ref, self.prop, self.device = spec, ref, prop, device

    def runtest(self) -> None:
        from ropecheck import engine
        from ropecheck.runner import PropertyResult

        opt = self.config.getoption
        try:
            (result,) = engine.verify_all(
                [(self.spec, self.ref)], profile=opt("--ropecheck-profile"), device=self.device,
                timeout=opt("--ropecheck-timeout"), names=[self.prop], pool=_pool(self.config))
            (row,) = result.properties
        except engine.LoadError as exc:  # imported at collection, failed now: this item pays
            row = PropertyResult(self.prop, "failed", f"not run: {exc}", device=self.device)
        if row.status == "skipped":
            pytest.skip(row.message)
        if row.status != "passed":
            raise RopecheckFailure(row)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, RopecheckFailure):
            row = excinfo.value.row
            lines = [f"{self.spec.name} · {row.name} [{row.device}] {row.status}: {row.message}"]
            if row.counterexample:
                lines.append(f"counterexample: {row.counterexample}")
            if row.reproduce:
                lines.append(f"reproduce: {row.reproduce}")
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"ropecheck {self.spec.name} {self.prop} [{self.device}]"


class RopecheckFailure(Exception):
    def __init__(self, row):
        super().__init__(row.message)
        self.row = row


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    """Our reports carry the JUnit names (an attribute survives pytest-xdist's transport)."""
    outcome = yield
    if isinstance(item, RopecheckItem):
        outcome.get_result().ropecheck_junit = {"classname": f"ropecheck.{item.spec.name}", "name": item.name}


class _JUnitNames:
    """JUnit XML: ``classname`` names the implementation, ``name`` the property[device]."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report) -> None:
        names = getattr(report, "ropecheck_junit", None)
        if not names or report.when != "setup":  # an item's first report, before JUnit closes its testcase
            return
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - a pytest without it: JUnit keeps its own names
            return
        log = self.config.stash.get(xml_key, None)
        if log is None:
            return
        reporter = log.node_reporter(report)
        reporter.add_attribute("classname", f"{log.prefix}.{names['classname']}" if log.prefix else names["classname"])
        reporter.add_attribute("name", names["name"])
