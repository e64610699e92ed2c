"""Running code ropecheck does not trust in a child process that cannot outlive ropecheck.

A *sandbox* is one child command started under a small *keeper* process::

    ropecheck ──lifeline (keeper's stdin)──▶ keeper ──▶ child (its own process group)
        ▲  ◀──── status (keeper's stdout) ──────┘        │
        └──────────────── framed result channel ◀────────┘

- **Nothing outlives the command.** The keeper runs in a session of its own (a Ctrl-C in
  the terminal does not reach it) and reads its stdin, the *lifeline*, which only
  ropecheck holds. When the lifeline reaches end of file (ropecheck closed it, or
  ropecheck died, whatever killed it) the keeper kills the child's process group and
  every process left under it (on Linux it is a *subreaper*, so what the child forked and
  orphaned comes back to it), writes the child's exit status to its stdout, and exits.
  On Linux the child also has ``PR_SET_PDEATHSIG = SIGKILL``: if the keeper dies, so does
  the child. ropecheck itself is a subreaper too and kills whatever reaches it.
- **Signals meant for ropecheck hit the keeper.** Code under test that signals its
  parent (``os.kill(os.getppid(), SIGTERM)``) reaches the keeper, which tears the child
  down and reports the signal; ropecheck goes on.
- **A garbled result channel is the child's failure, not ropecheck's.** Every message on
  the channel is one line ``RC1 <token> <json>`` with a token only this sandbox knows; any
  other line (a C extension writing to the wrong file descriptor), or the channel closed
  while the child lives (code that closes descriptors 3 and up), is reported as such.
- **Time limits that a busy machine does not trip** (``Limits``): the CPU time of the
  keeper's whole process tree, not the wall clock, bounds work that never ends; a tree
  that uses no CPU at all for ``stall_s`` is blocked (sleeping, deadlocked); a phase that
  keeps using CPU but needs more than ``wall_s`` of wall time is *too slow to judge*, an
  ``error`` of the run, never a verdict on the implementation.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil

FRAME = b"RC1"
_PR_SET_CHILD_SUBREAPER = 36

# The keeper: standard library only, started with ``python -I -c``. It must never import
# ropecheck (a ``ropecheck/`` folder in the working directory must not reach it) and must
# stay small: it is the one process whose death the rest relies on noticing.
KEEPER = r'''
import ctypes, os, select, signal, subprocess, sys, time
LINUX = sys.platform.startswith("linux")
try:
    LIBC = ctypes.CDLL(None, use_errno=True) if LINUX else None
except OSError:
    LIBC = None
if LIBC is not None:
    LIBC.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of the child come back here
keeper = os.getpid()
caught = []
def on_signal(signum, frame):
    caught.append(signum)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
          signal.SIGPIPE, signal.SIGALRM):
    signal.signal(s, on_signal)
fds = tuple(int(f) for f in os.environ.pop("ROPECHECK_PASS_FDS", "").split(",") if f)
def in_child():
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for s in range(1, signal.NSIG):
        try:
            if s not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    if LIBC is not None:
        LIBC.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL: the child dies with its keeper
    if os.getppid() != keeper:
        os._exit(137)
if "START" in globals():  # forked from ropecheck (Sandbox(target=...)): START forks the child itself
    child = START(in_child)
else:
    child = subprocess.Popen(sys.argv[1:], pass_fds=fds, stdin=subprocess.DEVNULL, stdout=2, process_group=0,
                             preexec_fn=in_child)
for f in fds:
    os.close(f)
def children():
    found = set()
    if LINUX:
        try:
            for tid in os.listdir(f"/proc/{keeper}/task"):
                with open(f"/proc/{keeper}/task/{tid}/children") as h:
                    found.update(int(p) for p in h.read().split())
        except OSError:
            pass
    return found
def kill_tree():
    """Kill the child's group and everything left under the keeper, until nothing is."""
    own_group = os.getpgid(0)
    for _ in range(200):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        kids = children()
        for pid in kids:
            try:
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
        time.sleep(0.01)
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a child's exit wakes the select below
status = None
while True:
    if caught:
        status = f"keeper-signal {caught[0]}"
        break
    ready, _, _ = select.select([0, wake_r], [], [], 1.0)
    if wake_r in ready:
        os.read(wake_r, 512)
    if 0 in ready:
        try:
            data = os.read(0, 64)
        except OSError:
            data = b""
        if not data or b"kill" in data:
            status = "killed"
            break
    code = child.poll()
    if code is not None:
        status = f"exit {code}" if code >= 0 else f"signal {-code}"
        break
kill_tree()
try:
    os.write(1, (status + "\n").encode())
except OSError:
    pass
'''


@dataclass(frozen=True)
class Limits:
    """How long one phase of a child (importing, one property, one benchmark) may take.

    cpu_s: CPU seconds of the child's whole process tree (every thread, every process it
        started). Work that never ends is stopped here, however loaded the machine is.
    stall_s: wall seconds in which the tree uses no CPU at all: blocked, sleeping, waiting
        on a lock that nobody releases.
    wall_s: wall seconds for the phase. Past it while still using CPU, the phase is *too
        slow to judge* on this machine (an ``error``), not a hang.
    """

    cpu_s: float
    stall_s: float
    wall_s: float

    @classmethod
    def for_timeout(cls, cpu_s: float) -> "Limits":
        """The limits that go with a CPU budget: stall within [10, 60] s, wall 10x the budget
        but at least 10 minutes."""
        return cls(cpu_s=cpu_s, stall_s=min(60.0, max(10.0, cpu_s)), wall_s=max(600.0, 10.0 * cpu_s))


@dataclass(frozen=True)
class Overrun:
    """Why a phase was stopped: ``kind`` is "cpu", "stall" or "wall"."""

    kind: str
    cpu_s: float
    wall_s: float
    limits: Limits

    @property
    def is_hang(self) -> bool:
        """cpu and stall overruns are the implementation's; wall is the machine's."""
        return self.kind in ("cpu", "stall")

    def describe(self) -> str:
        if self.kind == "cpu":
            return (f"hung: used {self.cpu_s:.0f} CPU seconds without returning (limit {self.limits.cpu_s:g} "
                    f"CPU seconds, --timeout; process killed)")
        if self.kind == "stall":
            return (f"hung: no progress for {self.limits.stall_s:.0f} s (blocked or sleeping: no CPU time used; "
                    f"process killed)")
        return (f"too slow to judge: {self.cpu_s:.1f} CPU seconds in {self.wall_s:.0f} s of wall time, past the "
                f"{self.limits.wall_s:.0f} s wall limit; the machine is overloaded (not a verdict on the implementation)")


class Watch:
    """Limits of one phase, checked against CPU samples of the sandbox's tree."""

    def __init__(self, sandbox: "Sandbox", limits: Limits):
        self.sandbox, self.limits = sandbox, limits
        now = time.monotonic()
        self.start_wall = self.progress_wall = now
        self.start_cpu = self.last_cpu = sandbox.cpu_seconds()

    def check(self) -> Overrun | None:
        now, cpu = time.monotonic(), self.sandbox.cpu_seconds()
        if cpu > self.last_cpu:
            self.last_cpu, self.progress_wall = cpu, now
        used, wall = cpu - self.start_cpu, now - self.start_wall
        if used > self.limits.cpu_s:
            return Overrun("cpu", used, wall, self.limits)
        if now - self.progress_wall > self.limits.stall_s:
            return Overrun("stall", used, wall, self.limits)
        if wall > self.limits.wall_s:
            return Overrun("wall", used, wall, self.limits)
        return None

    def used(self) -> tuple[float, float]:
        """(CPU seconds, wall seconds) since the phase started."""
        return self.sandbox.cpu_seconds() - self.start_cpu, time.monotonic() - self.start_wall


class Interrupted(BaseException):
    """A stop was requested (``signum``) while waiting on children."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stop:
    """A request to stop, set from a signal handler; ``wake_fd`` becomes readable then."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    @property
    def wake_fd(self) -> int:
        return self._read

    def request(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        try:
            os.write(self._write, b"!")
        except OSError:
            pass

    def check(self) -> None:
        """Raise ``Interrupted`` when a stop was requested."""
        if self.signum is not None:
            raise Interrupted(self.signum)

    @contextlib.contextmanager
    def on_signals(self, signums=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) -> Iterator["Stop"]:
        """Turn these signals into stop requests while the block runs (main thread only)."""
        previous = {s: signal.signal(s, lambda n, _frame: self.request(n)) for s in signums}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


def _become_subreaper() -> None:
    """On Linux, processes orphaned below ropecheck come back to it (and are killed)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- starting a sandbox by fork

FORK_LOCK = threading.Lock()
"""Held around every fork and around anything ropecheck's threads do that takes a lock a
forked child could need (printing): a child must not start with such a lock held."""


def can_fork() -> bool:
    """Whether sandboxes may be started by forking this process (Linux only: elsewhere
    forking a process that has loaded torch is not safe)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _fresh_stdio() -> None:
    """New Python file objects on descriptors 0-2 (the inherited ones may hold locks taken
    by a thread that does not exist in this process)."""
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _close_fds_except(keep: set[int]) -> None:
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _run_target(target: Callable[[], int]) -> int:
    """The sandboxed child's body after fork: like ``python -P -m ...`` returning from main."""
    code = 1
    try:
        code = target()
        code = 0 if code is None else int(code)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 - what an interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return code & 0xFF


class _ForkedChild:
    """The keeper's handle on a child it forked (what it needs of ``subprocess.Popen``)."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = 255
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _keeper_start(target: Callable[[], int]) -> Callable:
    """KEEPER's ``START``: fork the child (its own process group) and run ``target`` there."""

    def start(in_child: Callable[[], None]) -> _ForkedChild:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                in_child()
                signal.signal(signal.SIGINT, signal.default_int_handler)  # as a new interpreter starts
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)
                if hasattr(signal, "SIGXFSZ"):
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                os.setpgid(0, 0)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                os.dup2(2, 1)
                _fresh_stdio()
                if os.environ.get("PYTHONFAULTHANDLER"):
                    import faulthandler

                    faulthandler.enable(sys.stderr)
                code = _run_target(target)
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)  # also here: the keeper may kill the group before the child sets it
        except OSError:
            pass
        return _ForkedChild(pid)

    return start


class _ForkedKeeper(_ForkedChild):
    """A keeper forked from this process (what ``Sandbox`` uses of ``subprocess.Popen``).

    The keeper runs ``KEEPER`` unchanged, except that it forks its child instead of
    starting a new interpreter: the child begins with every module this process had
    loaded (torch, Hypothesis, ropecheck), which saves a second import of torch per
    checking process. Everything else (session, lifeline, subreaper, PDEATHSIG, the
    status line) is the keeper's usual work.
    """

    def __init__(self, target: Callable[[], int], env: dict[str, str], log_fd: int, pass_fds: tuple[int, ...]):
        lifeline_r, lifeline_w = os.pipe()
        status_r, status_w = os.pipe()
        with FORK_LOCK:
            gc.freeze()  # objects made since the last fork: shared with the child, not collected there
            pid = os.fork()
            if pid == 0:  # the keeper
                try:
                    os.setsid()
                    os.dup2(lifeline_r, 0)
                    os.dup2(status_w, 1)
                    os.dup2(log_fd, 2)
                    _close_fds_except({0, 1, 2, *pass_fds})
                    atexit._clear()
                    _fresh_stdio()
                    os.environ.clear()
                    os.environ.update(env)
                    exec(compile(KEEPER, "<ropecheck keeper>", "exec"), {"__name__": "__keeper__", "START": _keeper_start(target)})
                finally:
                    os._exit(0)
        os.close(lifeline_r)
        os.close(status_w)
        super().__init__(pid)
        self.stdin = os.fdopen(lifeline_w, "wb")
        self.stdout = os.fdopen(status_r, "rb")

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"keeper {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode


class Sandbox:
    """One child command under a keeper, with an optional framed channel both ways.

    ``argv`` is the child's command. With ``channel=True`` the child finds two descriptors
    in its environment: ``ROPECHECK_CHANNEL`` (write ``RC1 <ROPECHECK_TOKEN> <json>`` lines)
    and ``ROPECHECK_COMMANDS`` (JSON lines from ropecheck; end of file means stop). Its
    stdout and stderr go to ``log``.
    """

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, channel: bool = True,
                 target: Callable[[], int] | None = None):
        self.log = log
        self.token = secrets.token_hex(8)
        self._buffer = b""
        self._closed_channel = False
        self._last_cpu = 0.0
        self.status: str | None = None
        pass_fds: tuple[int, ...] = ()
        self._events_r = self._commands_w = None
        env = dict(env)
        if channel:
            events_r, events_w = os.pipe()
            commands_r, commands_w = os.pipe()
            env.update(ROPECHECK_CHANNEL=str(events_w), ROPECHECK_COMMANDS=str(commands_r), ROPECHECK_TOKEN=self.token)
            pass_fds = (events_w, commands_r)
            self._events_r, self._commands_w = events_r, commands_w
            os.set_blocking(events_r, False)
        env["ROPECHECK_PASS_FDS"] = ",".join(map(str, pass_fds))
        with open(log, "ab") as log_handle:
            if target is not None:
                self.keeper = _ForkedKeeper(target, env, log_handle.fileno(), pass_fds)
            else:
                self.keeper = subprocess.Popen([sys.executable, "-I", "-c", KEEPER, *argv], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=log_handle, pass_fds=pass_fds,
                                               env=env, start_new_session=True)
        _TRACKED.add(self.keeper.pid)
        for fd in pass_fds:
            os.close(fd)
        self._tree = [psutil.Process(self.keeper.pid)]

    # ------------------------------------------------------------ the channel

    @property
    def events_fd(self) -> int | None:
        return self._events_r

    def send(self, message: dict[str, Any]) -> bool:
        """Write one command; False when the child no longer reads them."""
        if self._commands_w is None:
            return False
        try:
            os.write(self._commands_w, (json.dumps(message) + "\n").encode())
            return True
        except (BrokenPipeError, OSError):
            return False

    def read_events(self) -> tuple[list[dict[str, Any]], str]:
        """The whole messages that arrived since the last call (non-blocking), and a
        problem ("" when none): a line that is not a framed message for this sandbox, or
        the channel closed while the child still runs."""
        if self._events_r is None or self._closed_channel:
            return [], ""
        chunks = []
        while True:
            try:
                data = os.read(self._events_r, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._closed_channel = True
                break
            chunks.append(data)
        self._buffer += b"".join(chunks)
        *lines, self._buffer = self._buffer.split(b"\n")
        events = []
        for line in lines:
            if not line.strip():
                continue
            event = self._parse(line)
            if event is None:
                shown = line[:120].decode("utf-8", "backslashreplace")
                return events, (f"wrote into ropecheck's result channel (a stray write to a file descriptor "
                                f"it does not own): {shown!r}")
            events.append(event)
        if self._closed_channel and self.keeper.poll() is None:
            time.sleep(0.2)  # the channel closes as a process exits: give the exit a moment to be seen
            if self.keeper.poll() is None:
                return events, ("closed ropecheck's result channel while still running (it closes file "
                                "descriptors it did not open)")
        return events, ""

    def _parse(self, line: bytes) -> dict[str, Any] | None:
        head, _, rest = line.partition(b" ")
        token, _, body = rest.partition(b" ")
        if head != FRAME or token != self.token.encode():
            return None
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        return event if isinstance(event, dict) and "event" in event else None

    # ------------------------------------------------------------ the process

    def alive(self) -> bool:
        return self.keeper.poll() is None and self.status is None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of everything under the keeper, reaped processes
        included; the keeper's own time is left out (it only waits)."""
        keeper = self._tree[0]
        try:
            tree = keeper.children(recursive=True)
            own = keeper.cpu_times()
            total = own.children_user + own.children_system
        except psutil.Error:
            tree, total = [], 0.0
        for proc in tree:
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                continue
        self._last_cpu = max(self._last_cpu, total)
        return self._last_cpu  # never decreases: a process that ends takes its time along

    def poll_status(self) -> str | None:
        """The keeper's report once it has exited: ``exit N``, ``signal N``, ``killed``,
        ``keeper-signal N`` (the keeper was signalled: by the code under test, its child),
        or ``keeper-failed N``."""
        if self.status is not None:
            return self.status
        code = self.keeper.poll()
        if code is None:
            return None
        line = self.keeper.stdout.read().decode(errors="replace").strip() if self.keeper.stdout else ""
        self.status = line or (f"keeper-signal {-code}" if code < 0 else f"keeper-failed {code}")
        return self.status

    def death_reason(self) -> str:
        """Why the child stopped, in words, with the last lines of its log."""
        status = self.poll_status() or ""
        kind, _, number = status.partition(" ")
        tail = log_tail(self.log)
        if kind == "exit":
            what = ("the checking process stopped early without an error" if number == "0"
                    else f"the checking process exited with code {number}")
        elif kind == "signal":
            what = f"crashed the interpreter ({_signal_name(int(number))})"
        elif kind == "keeper-failed":
            what = f"ropecheck's keeper process failed (exit code {number})"
        elif kind == "keeper-signal":
            what = (f"sent {_signal_name(int(number))} to its parent process (ropecheck's keeper), "
                    "which stopped the checking process")
        else:
            what = "the checking process was stopped"
        return f"{what}{': ' + tail if tail else ''}"

    def close(self, grace: float = 10.0) -> None:
        """Stop the child and everything under it; wait for the keeper."""
        for fd_name in ("_commands_w", "_events_r"):
            fd = getattr(self, fd_name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, fd_name, None)
        if self.keeper.poll() is None:
            try:
                self.keeper.stdin.write(b"kill\n")
                self.keeper.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
        try:
            self.keeper.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            self.keeper.wait(timeout=grace)
            self.poll_status()
        except subprocess.TimeoutExpired:
            pass
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """Belt and braces: kill the keeper's session and anything still under it."""
        try:
            procs = self._tree[0].children(recursive=True) + self._tree[:1]
        except psutil.Error:
            procs = []
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(self.keeper.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.keeper.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.keeper.stdout:
            self.keeper.stdout.close()
        _TRACKED.discard(self.keeper.pid)
        reap_orphans()


_OWNED = {"process": False}
_TRACKED: set[int] = set()


def own_process() -> None:
    """Declare that this process is ropecheck's command (not a test runner hosting it): it
    becomes a subreaper on Linux, and processes orphaned below it are killed."""
    _OWNED["process"] = True
    _become_subreaper()


def reap_orphans() -> None:
    """Kill and reap processes that were orphaned below ropecheck and came back to it:
    nothing ropecheck started may outlive it. Only in ropecheck's own command."""
    if not _OWNED["process"]:
        return
    try:
        kids = psutil.Process().children()
    except psutil.Error:
        return
    for kid in kids:
        if kid.pid in _TRACKED:
            continue
        try:
            kid.kill()
            kid.wait(timeout=5)
        except (psutil.Error, psutil.TimeoutExpired, ChildProcessError):
            pass


def log_tail(log: Path, lines: int = 3, width: int = 400) -> str:
    """The last non-empty lines of a child's log, joined by " | "."""
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return ""
    last = [line for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(last)[-width:]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def wait_any(sandboxes: list[Sandbox], wake_fd: int | None, timeout: float) -> None:
    """Block until a sandbox's channel has data, the wake descriptor fires, or ``timeout``."""
    with selectors.DefaultSelector() as sel:
        for box in sandboxes:
            if box.events_fd is not None:
                sel.register(box.events_fd, selectors.EVENT_READ)
        if wake_fd is not None:
            sel.register(wake_fd, selectors.EVENT_READ)
        if not sel.get_map():
            time.sleep(timeout)
            return
        sel.select(timeout)


def run_command(argv: list[str], env: dict[str, str], log: Path, limits: Limits, stop: Stop | None = None) -> str:
    """Run a command (no result channel) in a sandbox under ``limits``.

    Returns "" when it exited with code 0, else why not (one line, with the log's last
    lines). Raises ``Interrupted`` when ``stop`` is requested (the command is killed).
    """
    box = Sandbox(argv, env, log, channel=False)
    try:
        watch = Watch(box, limits)
        while box.poll_status() is None:
            if stop is not None:
                stop.check()
            overrun = watch.check()
            if overrun:
                return overrun.describe()
            wait_any([], None if stop is None else stop.wake_fd, 0.25)
        return "" if box.status == "exit 0" else box.death_reason()
    finally:
        box.close()
