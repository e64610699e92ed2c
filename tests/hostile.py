"""Implementations that attack the process they run in (for ``test_isolation`` and
``test_engine``): each is otherwise a correct half-split RoPE, so that whatever fails is
the attack, and the run must contain it, report it and go on.

Import-time attacks (a module that exits, hangs or raises while imported) are written by
the tests as files of their own, since importing them here would fire them.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import torch

from mutants import hf_style


def correct(x, positions, config):
    return hf_style(x, positions, config)


def kills_parent(x, positions, config):
    """Sends SIGTERM to its parent process on every call."""
    os.kill(os.getppid(), signal.SIGTERM)
    return hf_style(x, positions, config)


def garbles_channel(x, positions, config):
    """A C extension writing to the wrong file descriptors: garbage into every fd from 3."""
    for fd in range(3, 64):
        try:
            os.write(fd, b"a stray line from a C extension\n")
        except OSError:
            pass
    return hf_style(x, positions, config)


def closes_fds(x, positions, config):
    """Closes every file descriptor it did not open (3 and up), then answers."""
    os.closerange(3, 4096)
    return hf_style(x, positions, config)


def leaves_thread(x, positions, config):
    """Starts a non-daemon thread that never ends (the interpreter would wait for it at exit)."""
    threading.Thread(target=time.sleep, args=(10**6,), daemon=False).start()
    return hf_style(x, positions, config)


def forks_sleeper(x, positions, config):
    """Forks a child that leaves its session and sleeps for ever."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # and a grandchild, orphaned at once
            time.sleep(10**6)
        time.sleep(10**6)
        os._exit(0)
    return hf_style(x, positions, config)


def exits_mid_call(x, positions, config):
    raise SystemExit(0)


def returns_meta(x, positions, config):
    return torch.empty_like(x, device="meta")


class Unreadable(torch.Tensor):
    """A tensor whose shape can be asked for but whose values cannot be read."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "__get__":
            return super().__torch_function__(func, types, args, kwargs or {})
        raise RuntimeError("this tensor's storage is gone")


def returns_unreadable(x, positions, config):
    return hf_style(x, positions, config).as_subclass(Unreadable)


def sleepy_correct(x, positions, config):
    """Correct, and slow in wall time only (it waits 150 ms per call): a stand-in for a
    machine so busy that every call takes long."""
    time.sleep(0.15)
    return hf_style(x, positions, config)


def spins(x, positions, config):
    """Never returns, using the CPU all the while."""
    while True:
        pass


def stale_adapter(x, positions, config):
    """A bundled adapter whose library moved on: ropecheck's failure, never the library's."""
    from ropecheck.adapters import AdapterMismatch

    raise AdapterMismatch("ropecheck.adapters.fake:rope", "fakelib 9.9", "fakelib.rotary has no attribute 'apply'")
