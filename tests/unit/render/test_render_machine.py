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


def _spec(tmp_path, callable_ref, requires=()):
    from ropecheck.spec import spec_from_mapping

    return spec_from_mapping({"name": "x", "callable": callable_ref, "pairing": "half_split", "base": "any",
                              "dtypes": ["float32"], "devices": ["cpu"], "requires": list(requires)},
                             origin=str(tmp_path / "x.toml"), folder=str(tmp_path))


def test_the_library_is_the_distribution_of_requires_or_of_the_callables_module(tmp_path):
    import importlib.metadata as md

    hypothesis = f"hypothesis=={md.version('hypothesis')}"
    assert machine.library_version(_spec(tmp_path, "mine:rope", requires=["hypothesis.strategies"])) == hypothesis
    assert machine.library_version(_spec(tmp_path, "hypothesis.strategies:integers")) == hypothesis
    assert machine.library_version(_spec(tmp_path, "ropecheck.variants:half_split")).startswith("ropecheck==")
    assert machine.library_version(_spec(tmp_path, "mine:rope", requires=["no_such_lib_q"])) == \
        "no_such_lib_q (not installed)"


def test_a_local_adapter_is_named_with_the_commit_of_its_folder(tmp_path):
    import subprocess

    assert machine.library_version(_spec(tmp_path, "my_adapters:rope")) == "my_adapters (local)"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "my_adapters.py").write_text("def rope(x, positions, config):\n    return x\n")
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "adapter"], check=True)
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert machine.library_version(_spec(tmp_path, "my_adapters:rope")) == f"my_adapters (local, commit {head})"


def test_provenance_names_versions_profile_seed_and_devices():
    about = machine.provenance("ci", True, ["cpu"])
    assert set(about) == {"ropecheck", "commit", "torch", "hypothesis", "python", "profile", "seed", "devices", "date"}
    assert about["torch"] == machine.torch_version() and about["python"] == machine.python_version()
    assert (about["profile"], about["seed"], about["devices"]) == ("ci", "derandomized", {"cpu": machine.cpu_name()})
    assert machine.provenance("dev", False, [])["seed"] == "random"
