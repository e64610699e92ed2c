"""The command layer sits on top: nothing below ``ropecheck.commands`` imports it or
``ropecheck.cli`` (but the old entry points' ``main``, lazily), and targets are resolved,
callables loaded and spec/load errors turned into usage errors in one module."""

import ast
import subprocess
import sys
from pathlib import Path

import ropecheck

PACKAGE = Path(ropecheck.__file__).parent
TOP = {"cli.py", "__main__.py"}
SHIMS = {"repro.py", "conformance_table.py", "bench/timer_check.py"}  # their main() runs the new command


def _imports(tree: ast.AST):
    """(module imported, name of the function it is imported in or None) for every import."""
    def walk(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, function
            elif isinstance(child, ast.ImportFrom) and child.module:
                yield child.module, function
                for alias in child.names:
                    yield f"{child.module}.{alias.name}", function
            yield from walk(child, inner)
    yield from walk(tree, None)


def _below():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel not in TOP and not rel.startswith("commands/"):
            yield rel, ast.parse(path.read_text(encoding="utf-8"))


def test_nothing_below_imports_the_command_layer():
    upward = []
    for rel, tree in _below():
        for module, function in _imports(tree):
            if module.split(".")[:2] in (["ropecheck", "commands"], ["ropecheck", "cli"]):
                if not (rel in SHIMS and function == "main"):
                    upward.append(f"{rel}: {module} ({function or 'module level'})")
    assert not upward, upward


def test_the_modules_checking_processes_import_do_not_load_the_command_layer():
    code = ("import sys, ropecheck.repro, ropecheck.worker, ropecheck.conformance_table; "
            "up = sorted(m for m in sys.modules if m.startswith(('ropecheck.commands', 'ropecheck.cli'))); "
            "sys.exit(f'imported: {up}' if up else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_targets_callables_and_usage_errors_have_one_path():
    """registry.resolve, Spec.load_callable, SpecError and LoadError are named in the command
    layer only by commands/_options.py (resolve_targets, load_callable, preload, usage_errors)."""
    layer = [PACKAGE / "cli.py", *sorted((PACKAGE / "commands").glob("*.py"))]
    layer += [PACKAGE / rel for rel in SHIMS]
    where: dict[str, set[str]] = {}
    for path in layer:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in ("resolve", "load_callable", "SpecError", "LoadError", "preload"):
                if isinstance(node, ast.Attribute) or name in ("SpecError", "LoadError"):
                    where.setdefault(name, set()).add(rel)
            if isinstance(node, ast.alias) and node.name in ("resolve", "SpecError", "LoadError"):
                where.setdefault(node.name, set()).add(rel)
    assert {rel for rels in where.values() for rel in rels} == {"commands/_options.py"}, where
