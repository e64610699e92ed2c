"""How long `ropecheck verify` takes with the ci profile (benchmarks, not timed tests: they
record figures for docs/benchmarks.md and assert only the verdicts). Run with ``tox -e bench-verify``.

- one built-in implementation, the whole command (``verify half-split``), and the five
  built-ins in one command (target: at most 2.5x the first on 2 cores);
- a packed q/k kernel against an x-form one with the same examples: HF-style code in the
  packed q/k form (``forms.qk_packed``) and the built-in half-split, the same properties
  and profile, both in process.
  The claim to check: the packed q/k form costs at most 2x the x form.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from against import FIVE
from ropecheck import engine
from ropecheck.registry import builtin_specs
from ropecheck.spec import spec_from_mapping

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SHARED = ["oracle_agreement", "relative_position", "norm_preservation", "identity_at_zero", "per_row_positions",
          "chunked_equals_whole", "memory_layout", "output_contract", "input_not_modified", "gradients",
          "nan_locality", "determinism"]



def _verify(*targets: str) -> int:
    """The whole command, as a user runs it (default -j: the usable cores)."""
    return subprocess.run([sys.executable, "-m", "ropecheck", "verify", *targets, "--device", "cpu"],
                          cwd=ROOT, capture_output=True).returncode


def test_verify_one_implementation_ci_profile(benchmark):
    code = benchmark.pedantic(_verify, args=("half-split",), rounds=3, iterations=1)
    assert code == 0


def test_verify_the_five_builtins_in_one_command(benchmark):
    """Target (issue 13): at most 2.5x the one-implementation figure above on 2 cores."""
    code = benchmark.pedantic(_verify, args=FIVE, rounds=3, iterations=1)
    assert code == 0


def _x_spec():
    return [s for s in builtin_specs() if s.name == "half-split"][0]


def _qk_packed_spec():
    sys.path.insert(0, str(TESTS))
    return spec_from_mapping({"name": "qk-packed", "callable": "forms:qk_packed",
                              "pairing": "half_split", "base": "any",
                              "dtypes": ["float64", "float32", "bfloat16", "float16"], "devices": ["cpu"],
                              "partial_rotary": True, "signature": "qk", "packed": True},
                             origin="benchmark", folder=str(Path(__file__).parent))


@pytest.mark.parametrize("form", ["x", "qk+packed"])
def test_verify_cost_by_form(benchmark, form):
    spec = _x_spec() if form == "x" else _qk_packed_spec()
    result = benchmark.pedantic(lambda: engine.verify(spec, spec.name, profile="ci", device="cpu", isolate=False,
                                                      names=SHARED), rounds=2, iterations=1)
    assert result.conforms, [(p.name, p.message) for p in result.properties if p.status != "passed"]
