"""Writing results whole or not at all: every file ropecheck writes goes through here."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a temporary file in the same folder, fsynced,
    then renamed over ``path``. A crash leaves the old file or none, never half of one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a file written normally respects the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    """``atomic_write_text`` of ``data`` as indented JSON."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def atomic_write_csv(path: str | os.PathLike, frame) -> Path:
    """``atomic_write_text`` of a pandas DataFrame as CSV (no index)."""
    return atomic_write_text(path, frame.to_csv(index=False))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_problem(path: str | os.PathLike) -> str:
    """Why ``path`` cannot be written as an output file ("" when it can): checked before a
    run, so that a long run never ends in a traceback about its output."""
    target = Path(path)
    if target.is_dir():
        return f"{str(path)!r} is a folder; expected a file path"
    if target.exists() and not os.access(target, os.W_OK):
        return f"{str(path)!r} is not writable"
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{str(folder)!r} is not a folder, so {str(path)!r} cannot be created"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot create files in {str(folder)!r} (permission denied)"
    return ""
