"""``ropecheck.render`` is an output layer (docs/architecture.md): it imports lower layers,
and nothing in the utilities, math, checking or adapter layers imports it (or the old names
``ropecheck.report`` / ``ropecheck.table`` that re-export it)."""

import ast
from pathlib import Path

import ropecheck

PACKAGE = Path(ropecheck.__file__).parent
LOWER = ("storage.py", "isolation.py", "profiles.py", "rope_types/", "scaling.py", "config.py", "oracle.py",
         "tolerance.py", "diagnose.py", "variants.py", "tables.py", "proofs/", "spec.py", "registry.py",
         "strategies.py", "properties/", "runner.py", "identify.py", "repro.py", "precision.py", "engine.py", "worker.py",
         "adapters/", "__init__.py")
RENDER = ("ropecheck.render", "ropecheck.report", "ropecheck.table")


def _imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_no_lower_layer_imports_render():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(LOWER) or rel in LOWER:
            for module in _imported(ast.parse(path.read_text(encoding="utf-8"))):
                if module == "ropecheck.render" or module.startswith(tuple(m + "." for m in RENDER)) or module in RENDER:
                    upward.append(f"{rel}: {module}")
    assert not upward, upward


def test_render_text_and_status_import_nothing_of_ropecheck():
    for name in ("text.py", "status.py", "__init__.py"):
        tree = ast.parse((PACKAGE / "render" / name).read_text(encoding="utf-8"))
        assert not [m for m in _imported(tree) if m.startswith("ropecheck")], name
