"""The pytest plugin (entry point ``pytest11``): run ropecheck from a library's own tests.

    pytest --ropecheck-spec specs/mine.toml [--ropecheck-spec NAME ...]
           [--ropecheck-profile ci|dev|thorough] [--ropecheck-device cpu|cuda]

adds one test item per (implementation, property, device), named
``ropecheck[NAME::PROPERTY::DEVICE]``. Each implementation is checked once, in its own
process with the engine's time limit; its items then pass, fail (with the cause, the
counterexample and the reproduce line) or skip. The plugin also registers ropecheck's
Hypothesis profiles, so ``--hypothesis-profile ci`` works in any suite that has it.
"""

from __future__ import annotations

import math
from typing import Any

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


class _Verdicts:
    """Runs each implementation once, the first time one of its items runs."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.cache: dict[str, Any] = {}

    def get(self, spec, ref: str):
        if spec.name not in self.cache:
            from ropecheck import engine

            opt = self.config.getoption
            (self.cache[spec.name],) = engine.verify_all(
                [(spec, ref)], profile=opt("--ropecheck-profile"), device=opt("--ropecheck-device"),
                timeout=opt("--ropecheck-timeout"), pool=_pool(self.config))
        return self.cache[spec.name]


_POOL = pytest.StashKey["object"]()


def _pool(config: pytest.Config):
    """The session's checking processes (``ropecheck.engine.Pool``), closed at the end."""
    if _POOL not in config.stash:
        from ropecheck import engine

        config.stash[_POOL] = engine.Pool()
    return config.stash[_POOL]


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


class RopecheckItem(pytest.Item):
    def __init__(self, *, spec, ref: str, prop: str, device: str, verdicts: _Verdicts, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.ref, self.prop, self.device, self.verdicts = spec, ref, prop, device, verdicts

    def runtest(self) -> None:
        result = self.verdicts.get(self.spec, self.ref)
        rows = [p for p in result.properties if p.name == self.prop and p.device == self.device]
        if not rows:
            rows = [p for p in result.properties if p.name == self.prop]
        row = rows[0]
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
        return self.spec.origin, None, f"ropecheck {self.spec.name} {self.prop} [{self.device}]"


class RopecheckFailure(Exception):
    def __init__(self, row):
        super().__init__(row.message)
        self.row = row


class SpecUsageError(pytest.UsageError):
    pass


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    targets = config.getoption("--ropecheck-spec")
    if not targets:
        return
    from ropecheck import registry
    from ropecheck.properties import PROPERTIES
    from ropecheck.spec import SpecError

    from ropecheck import engine

    verdicts = _Verdicts(config)
    device = config.getoption("--ropecheck-device")
    timeout = config.getoption("--ropecheck-timeout")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise SpecUsageError(f"--ropecheck-timeout: expected a positive number of CPU seconds, got {timeout!r}")
    for target in targets:
        try:
            resolved = registry.resolve(target)
            # imported in checking processes, never here: an import that exits or hangs is a usage error
            _pool(config).preload([s for s, _ in resolved if not s.missing_requirements()],
                                  engine.limits_for(config.getoption("--ropecheck-profile"), timeout))
        except (SpecError, engine.LoadError) as exc:
            raise SpecUsageError(str(exc)) from None
        for spec, ref in resolved:
            for dev in ([device] if device else list(spec.devices)):
                for prop in PROPERTIES:
                    items.append(RopecheckItem.from_parent(
                        session, name=f"ropecheck[{spec.name}::{prop.name}::{dev}]",
                        spec=spec, ref=ref, prop=prop.name, device=dev, verdicts=verdicts))
