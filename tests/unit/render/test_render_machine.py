"""``ropecheck.render.machine``: machine metadata computed in one place, the same keys everywhere."""

import inspect

from ropecheck import conformance_table
from ropecheck.bench import table as bench_table, timer_check
from ropecheck.render import machine
from ropecheck.visual import data


def test_metadata_has_the_bench_tables_keys():
    meta = machine.metadata("cpu")
    assert tuple(meta) == machine.KEYS
    assert meta["device_name"] == machine.cpu_name() and meta["threads"] == machine.threads()
    assert meta["torch"] == machine.torch_version() and meta["python"] == machine.python_version()


def test_bench_and_timer_check_take_their_metadata_from_here():
    assert bench_table.metadata is machine.metadata and timer_check.metadata is machine.metadata


def test_the_conformance_table_and_the_report_name_the_machine_here():
    assert conformance_table.device_name("cpu") == machine.short_cpu_name()
    assert data.machine() == machine.describe()
    assert machine.short_cpu_name() in machine.describe() and machine.torch_version() in machine.describe()
    assert machine.gpu_name("cpu") is None
    assert machine.cores() is None or machine.cores() >= 1


def test_no_other_module_reads_the_machine():
    for module in (conformance_table, bench_table, timer_check, data):
        source = inspect.getsource(module)
        assert "platform." not in source and "/proc/cpuinfo" not in source, module.__name__
