"""What the commands share, in the manner of pytest-benchmark's option groups.

- the arguments several commands take (``add_*``): each command states only how its
  wording or default differs, so ``--help`` reads as it always did;
- the checks of their values (``check_*``, ``positive_int``, ``property_names``);
- the one way a target becomes specs (``resolve_targets``) and a spec's callable is
  loaded (``load_callable`` here, ``preload`` in checking processes);
- the one way a mistake becomes a usage error (``usage_errors``: a ``SpecError`` or an
  engine ``LoadError`` becomes ``UsageError``) and the one way a command's outcome becomes
  an exit code and at most one line on stderr (``outcome``): 0 success, 1 a check failed,
  2 a usage error, 128 + N when signal N stopped the command.

Nothing here imports torch (or pandas, or the engine) when it is imported: the command
line's parser is built from the command modules, and ``import ropecheck.cli`` stays cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
from typing import Callable, Iterator

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEVICES = ("cpu", "cuda")


class UsageError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


class Stopped(Exception):
    """A signal stopped a command that has nothing partial to write."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised like KeyboardInterrupt so that clean-up code runs."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# -- the arguments several commands take ---------------------------------------------------

def add_targets(parser: argparse.ArgumentParser, *, dest: str = "targets", nargs: str | None = "+",
                metavar: str | None = "TARGET", help: str | None = None, default=None) -> None:
    """The positional target(s): spec files, folders of specs, registered names."""
    parser.add_argument(dest, nargs=nargs, metavar=metavar, help=help, default=default)


def add_device(parser: argparse.ArgumentParser, *, default: str | None = "cpu",
               choices: tuple[str, ...] | None = DEVICES, help: str | None = None) -> None:
    parser.add_argument("--device", default=default, choices=choices, help=help)


def add_timeout(parser: argparse.ArgumentParser, *, help: str | None = None, metavar: str | None = "S") -> None:
    """``--timeout``: CPU seconds (checked by ``check_timeout``)."""
    parser.add_argument("--timeout", type=float, metavar=metavar, help=help)


def add_profile(parser: argparse.ArgumentParser, *, help: str | None = None) -> None:
    """``--profile``: a Hypothesis profile name (checked by ``check_profile``)."""
    parser.add_argument("--profile", default="ci", help=help)


def add_specs_folder(parser: argparse.ArgumentParser, *, help: str) -> None:
    """``--specs``: the folder searched for registered names."""
    parser.add_argument("--specs", default="specs", help=help)


def add_json(parser: argparse.ArgumentParser, *, help: str) -> None:
    parser.add_argument("--json", metavar="F", help=help)


def add_markdown(parser: argparse.ArgumentParser, *, help: str) -> None:
    parser.add_argument("--markdown", metavar="F", help=help)


# -- checks of their values ----------------------------------------------------------------

def check_timeout(value: float | None, option: str = "--timeout") -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option}: expected a positive number of CPU seconds, got {value!r}")
    return value


def check_profile(name: str) -> str:
    from ropecheck import profiles

    if name not in profiles.PROFILES:
        raise UsageError(f"--profile: expected one of {', '.join(profiles.PROFILES)}, got {name!r}")
    return name


def check_outputs(**paths: str | None) -> None:
    """Check every output option before any work: a run never ends in a traceback about them."""
    from ropecheck.storage import output_problem

    for option, path in paths.items():
        if path is not None:
            problem = output_problem(path)
            if problem:
                raise UsageError(f"--{option.replace('_', '-')}: {problem}")


def check_cuda(device: str | None) -> None:
    """``--device cuda`` on a machine without CUDA is a usage error (torch imported only then)."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine")


def install_hint(extra: str) -> str:
    """How to add ropecheck's optional ``extra``, as the user installed ropecheck: from a
    clone (the package sits in a checkout with its pyproject.toml) ``pip install -e
    'CLONE[extra]'``, which is what works there; otherwise ``pip install 'ropecheck[extra]'``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        clone = pyproject.is_file() and 'name = "ropecheck"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        clone = False
    return f"pip install -e '{root}[{extra}]'" if clone else f"pip install 'ropecheck[{extra}]'"


def check_matplotlib(message: str) -> None:
    """A usage error ``message`` plus the install line for the ``plots`` extra, when matplotlib
    is missing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"{message}: {install_hint('plots')}")


def positive_int(option: str, text: str | None) -> int | None:
    """``text`` as a positive int (None stays None); a ``UsageError`` naming the option and
    the value otherwise (0, negatives, fractions, words)."""
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < 1:
        raise UsageError(f"{option}: expected a positive integer, got {text!r}")
    return value


def property_names(chosen: list[str] | None) -> list[str] | None:
    """The --property names in catalogue order, or None for all; an unknown one is a usage error."""
    if not chosen:
        return None
    from ropecheck.properties import PROPERTIES
    from ropecheck.spec import closest

    known = [p.name for p in PROPERTIES]
    for name in chosen:
        if name not in known:
            close = closest(name, known)
            hint = f"; did you mean {close!r}?" if close else f"; expected one of {', '.join(known)}"
            raise UsageError(f"--property: unknown property {name!r}{hint}")
    return [n for n in known if n in chosen]


def warn(text: str) -> None:
    from ropecheck.render.text import printable

    print(f"ropecheck: note: {printable(text)}", file=sys.stderr, flush=True)


# -- targets, callables, usage errors: the one path ----------------------------------------

@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Inside the block, a ``SpecError`` (a spec file or registered name that is wrong: its
    message names the file and key) or an engine ``LoadError`` (a callable that cannot be
    imported in a checking process) becomes a ``UsageError`` with the same one line."""
    try:
        yield
    except UsageError:
        raise
    except Exception as exc:
        from ropecheck.spec import SpecError

        engine = sys.modules.get("ropecheck.engine")  # a LoadError exists only once the engine is loaded
        kinds = (SpecError,) if engine is None else (SpecError, engine.LoadError)
        if isinstance(exc, kinds):
            raise UsageError(str(exc)) from None
        raise


def resolve_targets(targets: list[str], folder: str = "specs", *, unique: bool = True,
                    note_shadowed: bool = True) -> list[tuple]:
    """(spec, reference) for every target, in order. ``unique``: two different specs with
    one name are a usage error and repeats are dropped (verify, bench); otherwise every
    target's specs are kept as resolved. ``note_shadowed``: a note on stderr when a
    built-in name hides another spec of that name."""
    from ropecheck import registry
    from ropecheck.spec import SpecError

    resolved: list[tuple] = []
    with usage_errors():
        for target in targets:
            resolved += registry.resolve(target, folder, warn=warn if note_shadowed else None)
        if not unique:
            return resolved
        names: dict[str, str] = {}
        for spec, _ in resolved:
            if spec.name in names and names[spec.name] != spec.origin:
                raise SpecError(spec.origin, "name", f"{spec.name!r} is also the name of {names[spec.name]}; names must be unique")
            names[spec.name] = spec.origin
    kept, seen = [], set()
    for spec, ref in resolved:
        if spec.name not in seen:
            seen.add(spec.name)
            kept.append((spec, ref))
    return kept


def callable_reference(target: str) -> str:
    """A ``module:attribute`` given on the command line (identify), checked for its form."""
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise UsageError(f"{target!r}: expected module:attribute, e.g. my_adapters:rope")
    return target


def load_callable(spec) -> Callable:
    """``spec``'s callable imported in this process (repro); one that cannot be imported
    is a usage error naming the spec file and ``callable``."""
    with usage_errors():
        return spec.load_callable()


def preload(targets: list[tuple], timeout: float | None) -> None:
    """Import every runnable target's callable in a checking process first: an import
    that raises, exits or hangs is a usage error naming the spec file and ``callable``."""
    from ropecheck import engine
    from ropecheck.isolation import Stop

    runnable = [spec for spec, _ in targets if not spec.missing_requirements()]
    stop = Stop()
    try:
        with stop.on_signals(), usage_errors(), engine.Pool(stop) as pool:
            pool.preload(runnable, engine.limits_for("ci", timeout))
    finally:
        stop.close()
    if stop.signum is not None:
        raise Stopped(stop.signum)


# -- a command's outcome as an exit code ----------------------------------------------------

def outcome(run: Callable[[argparse.Namespace], int], args: argparse.Namespace, prefix: str = "ropecheck") -> int:
    """``run(args)``'s exit code; a usage error is one line ``PREFIX: error: ...`` and 2, a
    signal that stopped the command one line and 128 + its number."""
    from ropecheck.render.text import printable

    try:
        return run(args)
    except UsageError as exc:
        print(f"{prefix}: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (Stopped, Terminated) as exc:
        print(f"{prefix}: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT


def standalone(command, argv: list[str] | None, *, prog: str, prefix: str, description: str | None,
               formatter_class: type = argparse.HelpFormatter) -> int:
    """A command run from its old module entry point (``python -m ropecheck.repro``): its
    own parser with the old ``prog`` (argparse exits as it always did on bad arguments and
    ``--help``), then the same ``outcome`` as under ``ropecheck``."""
    parser = argparse.ArgumentParser(prog=prog, description=description, formatter_class=formatter_class)
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    return outcome(command.run, args, prefix)
