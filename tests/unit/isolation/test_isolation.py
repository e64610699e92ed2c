"""ropecheck.isolation: the keeper, the framed channel and CPU-time limits, on small
children that do not import torch. Nothing here waits on a fixed clock: every wait is for
a condition, with a generous bound."""

import os
import signal
import sys
import time
import uuid

import pytest

from ropecheck import isolation
from ropecheck.isolation import Limits, Overrun, Sandbox, Stop, Watch

from harness import gone, leftovers, wait_for


def env_with(marker: str) -> dict[str, str]:
    return dict(os.environ, ROPECHECK_TEST_MARKER=marker)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


SEND = ("import os; fd = int(os.environ['ROPECHECK_CHANNEL']); tok = os.environ['ROPECHECK_TOKEN']\n"
        "def send(text): os.write(fd, ('RC1 ' + tok + ' ' + text + '\\n').encode())\n")


# ---------------------------------------------------------------- limits, on a fake clock


class FakeBox:
    def __init__(self):
        self.cpu = 0.0

    def cpu_seconds(self):
        return self.cpu


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(isolation, "time", fake)
    return fake


def test_wall_time_alone_never_makes_a_hang(clock):
    """A process that keeps using CPU slowly (a loaded machine) is not hung: only the wall
    limit, far above any honest run, stops it, and that is an error, not a failure."""
    box, limits = FakeBox(), Limits(cpu_s=10, stall_s=30, wall_s=1000)
    watch = Watch(box, limits)
    for _ in range(99):  # 990 s of wall time, 0.1 CPU s every 10 s: 4x past cpu_s in wall terms
        clock.now += 10
        box.cpu += 0.1
        assert watch.check() is None
    clock.now += 20
    box.cpu += 0.1
    overrun = watch.check()
    assert overrun.kind == "wall" and not overrun.is_hang
    assert "too slow to judge" in overrun.describe() and "not a verdict on the implementation" in overrun.describe()


def test_cpu_budget_stops_a_spinning_process(clock):
    box, limits = FakeBox(), Limits(cpu_s=5, stall_s=30, wall_s=1000)
    watch = Watch(box, limits)
    clock.now += 4
    box.cpu += 4.9
    assert watch.check() is None
    clock.now += 1
    box.cpu += 0.2
    overrun = watch.check()
    assert overrun.kind == "cpu" and overrun.is_hang and "5.1" not in overrun.describe()
    assert "CPU seconds without returning" in overrun.describe()


def test_no_cpu_progress_is_a_blocked_process(clock):
    box, limits = FakeBox(), Limits(cpu_s=100, stall_s=30, wall_s=1000)
    watch = Watch(box, limits)
    box.cpu += 1.0
    clock.now += 29
    assert watch.check() is None  # it used CPU in this window
    clock.now += 29.9
    assert watch.check() is None
    clock.now += 0.2
    overrun = watch.check()
    assert overrun.kind == "stall" and overrun.is_hang and "no progress for 30 s" in overrun.describe()


def test_limits_for_a_timeout():
    assert Limits.for_timeout(120) == Limits(120, 60, 1200)
    assert Limits.for_timeout(3) == Limits(3, 10, 600)
    assert Overrun("cpu", 3.2, 9.0, Limits.for_timeout(3)).is_hang


# ---------------------------------------------------------------- real children


def test_close_kills_the_child_and_every_process_under_it(tmp_path):
    marker = uuid.uuid4().hex
    code = ("import os, time\n"
            "if os.fork() == 0:\n"  # a child that leaves the process group
            "    os.setsid()\n"
            "    if os.fork() == 0: time.sleep(600)\n"  # and an orphaned grandchild
            "    os._exit(0)\n"
            "open(os.environ['READY'], 'w').close()\n"
            "time.sleep(600)\n")
    env = dict(env_with(marker), READY=str(tmp_path / "ready"))
    box = Sandbox(python(code), env, tmp_path / "log", channel=False)
    wait_for(lambda: (tmp_path / "ready").exists() and len(leftovers(marker)) >= 3)
    box.close()
    assert gone(marker) == []
    assert box.status == "killed"


def test_the_keeper_tears_down_when_ropecheck_dies(tmp_path):
    """The lifeline: ropecheck killed with SIGKILL (no clean-up runs) leaves nothing behind."""
    marker = uuid.uuid4().hex
    parent = ("import sys, time\n"
              "from pathlib import Path\n"
              "from ropecheck.isolation import Sandbox\n"
              f"box = Sandbox([sys.executable, '-c', 'import time; time.sleep(600)'], __import__('os').environ.copy(), "
              f"Path({str(tmp_path / 'log')!r}), channel=False)\n"
              "print('started', flush=True)\n"
              "time.sleep(600)\n")
    import subprocess

    proc = subprocess.Popen(python(parent), env=env_with(marker), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    wait_for(lambda: len(leftovers(marker)) >= 3)  # ropecheck, keeper, child
    proc.kill()
    proc.wait()
    assert gone(marker) == []


def test_a_signal_to_the_parent_reaches_the_keeper_and_is_reported(tmp_path):
    code = "import os, signal, time; os.kill(os.getppid(), signal.SIGTERM); time.sleep(600)"
    box = Sandbox(python(code), os.environ.copy(), tmp_path / "log", channel=False)
    wait_for(lambda: box.poll_status())
    assert box.status == f"keeper-signal {int(signal.SIGTERM)}"
    assert "sent SIGTERM to its parent process" in box.death_reason()
    box.close()


def test_framed_events_pass_and_a_stray_line_is_reported(tmp_path):
    code = SEND + "send('{\"event\": \"ready\"}'); os.write(fd, b'from a C extension\\n'); import time; time.sleep(600)"
    box = Sandbox(python(code), os.environ.copy(), tmp_path / "log")
    events, problem = wait_for(lambda: (lambda r: r if (r[0] or r[1]) else None)(box.read_events()))
    while not problem:
        more, problem = box.read_events()
        events += more
    assert events == [{"event": "ready"}]
    assert "wrote into ropecheck's result channel" in problem and "from a C extension" in problem
    box.close()


def test_a_closed_channel_of_a_live_child_is_reported(tmp_path):
    code = SEND + "send('{\"event\": \"ready\"}'); os.closerange(3, 4096); import time; time.sleep(600)"
    box = Sandbox(python(code), os.environ.copy(), tmp_path / "log")
    problem = ""
    events = []
    while not problem:
        more, problem = box.read_events()
        events += more
        time.sleep(0.05)
    assert events == [{"event": "ready"}] and "closed ropecheck's result channel" in problem
    box.close()


def test_a_token_from_another_sandbox_is_not_accepted(tmp_path):
    code = SEND.replace("tok = os.environ['ROPECHECK_TOKEN']", "tok = 'f00f00f00f00f00f'") + \
        "send('{\"event\": \"ready\"}'); import time; time.sleep(600)"
    box = Sandbox(python(code), os.environ.copy(), tmp_path / "log")
    problem = wait_for(lambda: box.read_events()[1])
    assert "wrote into ropecheck's result channel" in problem
    box.close()


def test_cpu_seconds_count_the_whole_tree_not_the_keeper(tmp_path):
    code = ("import os, time\n"
            "if os.fork() == 0:\n"
            "    end = time.process_time() + 1.0\n"
            "    while time.process_time() < end: pass\n"
            "    os._exit(0)\n"
            "os.wait()\n"
            "time.sleep(600)\n")
    box = Sandbox(python(code), os.environ.copy(), tmp_path / "log", channel=False)
    # the grandchild used 1.0 s by its own clock; /proc counts whole clock ticks, reaped or not
    assert wait_for(lambda: box.cpu_seconds() >= 0.9, within=300)
    box.close()


def test_run_command_reports_exit_and_overrun(tmp_path):
    assert isolation.run_command(python("pass"), os.environ.copy(), tmp_path / "a", Limits.for_timeout(60)) == ""
    why = isolation.run_command(python("import sys; print('boom'); sys.exit(4)"), os.environ.copy(), tmp_path / "b",
                                Limits.for_timeout(60))
    assert "exited with code 4" in why and "boom" in why
    why = isolation.run_command(python("while True: pass"), os.environ.copy(), tmp_path / "c", Limits(1.0, 60, 600))
    assert why.startswith("hung: used")


def test_a_stop_request_interrupts_a_wait(tmp_path):
    stop = Stop()
    stop.request(signal.SIGTERM)
    with pytest.raises(isolation.Interrupted) as info:
        isolation.run_command(python("import time; time.sleep(600)"), os.environ.copy(), tmp_path / "log",
                              Limits.for_timeout(60), stop)
    assert info.value.signum == signal.SIGTERM
    stop.close()
