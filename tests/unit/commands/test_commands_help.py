"""``ropecheck --help`` names every command, built from ``ropecheck/commands/`` in a fixed order."""

import argparse
import subprocess
import sys

import pytest

from ropecheck import cli, commands

OLD = ["prove", "list", "verify", "bench", "compare", "identify", "report"]
NEW = ["repro", "conformance-table", "timer-check"]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_help_lists_every_command_the_old_ones_first(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "{" + ",".join(OLD + NEW) + "}" in out.replace("\n", "").replace(" ", "")
    for name in NEW:
        assert f"\n    {name} " in out, name
    assert list(_subcommands(cli.build_parser())) == OLD + NEW


def test_every_command_module_has_the_same_small_interface():
    names = []
    for command in commands.commands():
        assert isinstance(command.NAME, str) and isinstance(command.HELP, str) and command.HELP
        assert callable(command.add_arguments) and callable(command.run)
        names.append(command.NAME)
    assert names == OLD + NEW


@pytest.mark.parametrize("module, name", [("ropecheck.repro", "repro"),
                                          ("ropecheck.conformance_table", "conformance-table"),
                                          ("ropecheck.bench.timer_check", "timer-check")])
def test_the_old_module_entry_points_take_the_commands_arguments(module, name):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python -m {module} ")
    sub = _subcommands(cli.build_parser())[name]
    for action in sub._actions:
        for option in action.option_strings:
            assert option in proc.stdout, (module, option)
        if not action.option_strings:
            assert (action.metavar or action.dest) in proc.stdout, (module, action.dest)


def test_building_the_command_line_imports_no_torch():
    code = ("import sys, ropecheck.cli; ropecheck.cli.build_parser(); "
            "heavy = sorted({'torch', 'pandas', 'ropecheck.engine', 'ropecheck.spec'} & set(sys.modules)); "
            "sys.exit(f'imported: {heavy}' if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
