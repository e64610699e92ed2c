"""``ropecheck identify`` (CONTRACT §3): the fit recovers pairing, base, rotary_dim, position
offset and linear scaling of built-in variants, mutants, hand-written conventions and
third-party adapters, and says plainly when a callable is no RoPE it can explain.

Every callable here has the adapter signature
``rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x``.
Sign convention: ``position_offset`` k means the callable rotates position m by the
angle of m + k (``mutants.off_by_one`` calls ``hf_style(positions + 1)``: k = +1).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import mutants
from ropecheck import cli, identify, variants
from ropecheck.config import RopeConfig

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-6


def fit(fn, **kwargs) -> identify.Identification:
    """``identify.identify(fn, **kwargs)``, asserting the fit was explained."""
    result = identify.identify(fn, **kwargs)
    assert result.explained, result.message
    assert result.message.startswith("identified:")
    return result


def assert_convention(result, pairing, base, rotary_dim, offset=0, factor=None):
    """The reported fields, and the raw (unsnapped) base within a relative 1e-6."""
    assert result.pairing == pairing
    assert result.rotary_dim == rotary_dim
    assert result.position_offset == offset
    assert abs(result.fitted_base - base) <= REL * base, result.fitted_base
    assert result.base == base
    if factor is None:
        assert result.scaling is None
    else:
        assert result.scaling == {"rope_type": "linear", "factor": factor}
        assert abs(result.fitted_factor - factor) <= REL * factor


def hf_with(**kw):
    """A ``mutants.hf_style`` RoPE (half_split, float32 angles) with keywords fixed."""
    return lambda x, positions, config: mutants.hf_style(x, positions, config, **kw)


# ---------------------------------------------------------------- recovered conventions


@pytest.mark.parametrize("name", sorted(variants.VARIANTS))
def test_builtin_variants(name):
    fn, pairing = variants.VARIANTS[name]
    assert_convention(fit(fn), pairing, 10000.0, 64)


def test_base_1000_mutant():
    assert_convention(fit(mutants.seed_003_base_1000), "half_split", 1000.0, 64)


@pytest.mark.parametrize("fn, offset", [
    (mutants.off_by_one, 1),  # hf_style(positions + 1): position m turned by the angle of m + 1
    (lambda x, p, c: mutants.hf_style(x, p - 1, c), -1),
    (lambda x, p, c: mutants.hf_style(x, p + 1000, c), 1000),
])
def test_position_offset(fn, offset):
    assert_convention(fit(fn), "half_split", 10000.0, 64, offset=offset)


def test_interleaved_labelled_half_split():
    """The probe says half_split; what the callable does is interleaved."""
    assert_convention(fit(mutants.interleaved_labelled_half_split), "interleaved", 10000.0, 64)


def linear_by_4(x, positions, config):
    """Position interpolation: angles of m / 4, formed in float32."""
    inv = mutants.inv_freq_f32(config.base, config.rotary_dim, x.device)
    return mutants.hf_style(x, positions, config, angles=(positions.float() / 4)[..., None] * inv)


def test_linear_scaling_factor():
    assert_convention(fit(linear_by_4), "half_split", 10000.0, 64, factor=4.0)


@pytest.mark.parametrize("base, head_dim", [(500000.0, 64), (1e6, 64), (1e6, 128)])
def test_hard_coded_large_base(base, head_dim):
    assert_convention(fit(hf_with(base=base), head_dim=head_dim), "half_split", base, head_dim)


def test_hard_coded_base_interleaved():
    gptj_1e6 = lambda x, p, c: mutants.correct_gptj(x, p, c.replace(base=1e6))  # noqa: E731
    assert_convention(fit(gptj_1e6), "interleaved", 1e6, 64)


@pytest.mark.parametrize("fn, pairing, rotary_dim", [
    (lambda x, p, c: mutants.correct_hf(x, p, c.replace(rotary_dim=32)), "half_split", 32),
    (lambda x, p, c: mutants.correct_gptj(x, p, c.replace(rotary_dim=16)), "interleaved", 16),
])
def test_hard_coded_partial_rotary(fn, pairing, rotary_dim):
    """The callable ignores the probe's rotary_dim 64 and rotates only its own leading dims."""
    assert_convention(fit(fn), pairing, 10000.0, rotary_dim)


def test_partial_rotary_from_the_probe_config():
    probe = RopeConfig(base=10000.0, rotary_dim=32, pairing="half_split", head_dim=64)
    result = fit(mutants.correct_hf, config=probe)
    assert_convention(result, "half_split", 10000.0, 32)
    assert result.probe == probe


def test_single_pair_reports_the_probe_base():
    result = fit(lambda x, p, c: mutants.correct_gptj(x, p, c.replace(rotary_dim=2)))
    assert (result.pairing, result.rotary_dim, result.base) == ("interleaved", 2, 10000.0)
    assert any("one rotated pair" in note for note in result.notes)


def test_writes_into_x_is_still_identified():
    assert_convention(fit(mutants.correct_inplace), "half_split", 10000.0, 64)


def test_float64_input_refused_falls_back_to_float32():
    def float32_only(x, positions, config):
        if x.dtype != torch.float32:
            raise TypeError("float32 only")
        return mutants.correct_hf(x, positions, config)

    result = fit(float32_only)
    assert result.dtype == "float32"
    assert_convention(result, "half_split", 10000.0, 64)


def test_table_limited_callable_is_probed_below_its_limit():
    """A cos/sin table of 8192 positions: probed up to 4096, with a note."""
    result = fit(mutants.correct_table_lookup)
    assert_convention(result, "half_split", 10000.0, 64)
    assert "up to 4096 only" in result.notes[0]


# ---------------------------------------------------------------- not a RoPE


def random_orthogonal(x, positions, config):
    q = torch.linalg.qr(torch.randn(x.shape[-1], x.shape[-1], generator=torch.Generator().manual_seed(0),
                                    dtype=torch.float64))[0]
    return (x.double() @ q.T).to(x.dtype)


@pytest.mark.parametrize("fn, why", [
    (lambda x, p, c: x * 2, "dim 0 is multiplied by 2"),
    (random_orthogonal, "mixes with 63 dims"),
    (mutants.raises_always, "raised NotImplementedError: this RoPE is not written yet"),
    (mutants.wrong_direction, "rotates the wrong way"),
    (mutants.scaled_output, "scaled by 1.01"),
    (mutants.table_clamped_4096, "off one geometric ladder"),
    (mutants.chunk_relative_positions, "does not reproduce it"),
    (mutants.fp16_positions, "NaN or infinite at position 65536"),
])
def test_not_a_rope(fn, why):
    result = identify.identify(fn)
    assert not result.explained
    assert result.message.startswith("not a RoPE it can explain: ")
    assert why in result.message + " ".join(result.notes)


def test_json_of_a_failure_has_the_contract_keys():
    data = identify.identify(mutants.raises_always).to_json()
    assert list(data) == list(identify.JSON_KEYS)
    assert data["explained"] is False and data["pairing"] is None and data["residual"] is None


# ---------------------------------------------------------------- third-party adapters


def test_hf_llama():
    pytest.importorskip("transformers")
    from ropecheck.adapters import hf

    assert_convention(fit(hf.llama), "half_split", 10000.0, 64)


def test_hf_gptj_ignores_the_config_base():
    """GPT-J hard-codes base 10000: probed with base 500000 it is still found to be 10000."""
    pytest.importorskip("transformers")
    from ropecheck.adapters import hf

    probe = RopeConfig(base=500000.0, rotary_dim=32, pairing="half_split", head_dim=64)
    assert_convention(fit(hf.gptj, config=probe), "interleaved", 10000.0, 32)


def test_torchtune():
    pytest.importorskip("torchtune")
    from ropecheck.adapters import torchtune

    probe = RopeConfig(base=500000.0, rotary_dim=64, pairing="half_split", head_dim=64)
    assert_convention(fit(torchtune.rope, config=probe), "interleaved", 500000.0, 64)


def test_lucidrains():
    pytest.importorskip("rotary_embedding_torch")
    from ropecheck.adapters import lucidrains

    assert_convention(fit(lucidrains.rotate_queries_or_keys), "interleaved", 10000.0, 64)


# ---------------------------------------------------------------- command line


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_cli_in_process_table_and_json(tmp_path, monkeypatch, capsys):
    write_module(tmp_path, "idtarget_base1000", """
        from ropecheck.variants import half_split

        def rope(x, positions, config):
            return half_split(x, positions, config.replace(base=1000.0))
    """)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    out = tmp_path / "id.json"
    assert cli.main(["identify", "idtarget_base1000:rope", "--json", str(out), "--head-dim", "32"]) == 0
    data = json.loads(out.read_text())
    assert list(data) == list(identify.JSON_KEYS)
    assert (data["pairing"], data["base"], data["rotary_dim"], data["position_offset"]) == ("half_split", 1000.0, 32, 0)
    assert data["scaling"] is None and data["explained"] is True and data["residual"] < 1e-2
    text = capsys.readouterr().out
    assert "identified: half_split pairs, base 1000" in text and "RopeConfig(base=10000" in text


def test_cli_in_process_not_a_rope_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT / "tests")
    monkeypatch.setattr(sys, "path", list(sys.path))
    out = tmp_path / "id.json"
    assert cli.main(["identify", "mutants:wrong_direction", "--json", str(out)]) == 1
    assert "not a RoPE it can explain: pair (0, 32) turns by -1 rad" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert list(data) == list(identify.JSON_KEYS)
    assert data["explained"] is False and data["pairing"] == "half_split" and data["base"] is None


@pytest.mark.parametrize("argv, expected", [
    (["identify", "nomodule_xyz:x"], "cannot import module 'nomodule_xyz'"),
    (["identify", "ropecheck.variants"], "expected module:attribute"),
    (["identify", "ropecheck.variants:nope"], "has no attribute 'nope'"),
    (["identify", "ropecheck.variants:VARIANTS"], "is a dict, not a callable"),
    (["identify", "ropecheck.variants:half_split", "--head-dim", "5"], "--head-dim"),
])
def test_cli_usage_errors_exit_2(argv, expected, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ropecheck.cli", "identify", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_subprocess_exit_codes_and_json(tmp_path):
    write_module(tmp_path, "shifted_rope", """
        def rope(x, positions, config):
            from ropecheck.variants import interleaved
            return interleaved(x, positions + 3, config.replace(base=500000.0))

    """)
    out = tmp_path / "id.json"
    proc = run_cli("shifted_rope:rope", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert list(data) == list(identify.JSON_KEYS)
    residual = data.pop("residual")
    contract = {key: data[key] for key in identify.JSON_KEYS[:7] if key != "residual"}
    assert contract == {"pairing": "interleaved", "base": 500000.0, "rotary_dim": 64, "position_offset": 3,
                        "scaling": None, "explained": True}
    assert 0 <= residual < 1e-2
    assert data["max_position"] is None and data["not_probed"] == []
    assert [w["ok"] for w in data["rotary_width"]] == [True, True]


@pytest.mark.slow
def test_cli_subprocess_usage_error(tmp_path):
    proc = run_cli("nomodule:x", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nomodule" in proc.stderr


def test_cli_cuda_without_cuda_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert cli.main(["identify", "ropecheck.variants:half_split", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
