"""``ropecheck identify`` (docs/contract.md §3): the fit recovers pairing, base, rotary_dim, position
offset and linear scaling of built-in variants, mutants, hand-written conventions and
third-party adapters, and says plainly when a callable is no RoPE it can explain.

Every callable here has the adapter signature
``rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x``.
Sign convention: ``position_offset`` k means the callable rotates position m by the
angle of m + k (``mutants.off_by_one`` calls ``hf_style(positions + 1)``: k = +1).
"""

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import boundary_mutants
import mutants
from ropecheck import cli, identify, variants
from ropecheck.config import RopeConfig

from harness import ROOT
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
    assert_convention(fit(mutants.hardcoded_base_1000), "half_split", 1000.0, 64)


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


# ---------------------------------------------------------------- --max-position


GPTJ_TABLE_ROWS = 2048


def gptj_table_2048(x, positions, config):
    """Correct GPT-J-style RoPE with a fixed table: ``max_position_embeddings = 2048`` rows
    of float32 sin/cos built once from ``inv_freq = 1 / base**(arange(0, rd, 2) / rd)``,
    gathered by position (a position past 2047 raises IndexError), and rotated with
    ``rotate_every_two`` (interleaved pairs). Only the leading ``config.rotary_dim`` dims.

    x: (batch, seq, heads, head_dim); positions: (batch, seq) int64. Returns like x.
    """
    rd = config.rotary_dim
    inv_freq = 1.0 / (config.base ** (torch.arange(0, rd, 2, dtype=torch.float32) / rd))
    sinusoid = torch.einsum("i,j->ij", torch.arange(GPTJ_TABLE_ROWS, dtype=torch.float32), inv_freq)
    sin_table, cos_table = sinusoid.sin(), sinusoid.cos()  # (2048, rd // 2)
    sin = sin_table[positions].repeat_interleave(2, -1)[:, :, None, :]  # IndexError past 2047
    cos = cos_table[positions].repeat_interleave(2, -1)[:, :, None, :]
    rot = x[..., :rd].float()
    every_two = torch.stack((-rot[..., 1::2], rot[..., ::2]), dim=-1).flatten(-2)
    out = rot * cos + every_two * sin
    return torch.cat((out.to(x.dtype), x[..., rd:]), dim=-1)


class Recorded:
    """Wraps a RoPE callable and keeps the largest position of every call."""

    def __init__(self, fn):
        self.fn, self.largest = fn, []

    def __call__(self, x, positions, config):
        self.largest.append(int(positions.max()))
        return self.fn(x, positions, config)


def test_gptj_table_2048_refused_without_max_position():
    """Why it is refused: the probe goes to 65536 and, when that raises, retries up to 4096,
    still past the table's last row 2047, so every probe raises IndexError."""
    calls = Recorded(gptj_table_2048)
    result = identify.identify(calls)
    assert not result.explained
    assert "raised IndexError" in result.message and "positions up to 4096" in result.message
    assert min(calls.largest) < GPTJ_TABLE_ROWS <= max(calls.largest)
    with pytest.raises(IndexError):  # the helper is a table lookup, not a bounds "fix"
        gptj_table_2048(torch.zeros(1, 1, 1, 64), torch.tensor([[GPTJ_TABLE_ROWS]]), identify.default_probe())


def test_gptj_table_2048_identified_with_max_position_2048():
    calls = Recorded(gptj_table_2048)
    result = fit(calls, max_position=GPTJ_TABLE_ROWS)
    assert_convention(result, "interleaved", 10000.0, 64)
    assert max(calls.largest) == GPTJ_TABLE_ROWS - 1  # probed up to the last row, never past it
    assert result.max_position == GPTJ_TABLE_ROWS
    (skipped,) = result.not_probed
    assert "2048, 4096, 8192" in skipped and "not probed because of --max-position 2048" in skipped
    assert skipped in result.notes
    assert [w.ok for w in result.rotary_width] == [True, True]
    data = result.to_json()
    assert data["max_position"] == 2048 and data["not_probed"] == [skipped]


SHIFTED_BACK_5 = lambda x, p, c: mutants.hf_style(x, p - 5, c)  # noqa: E731 - position m turned as m - 5


@pytest.mark.parametrize("fn, offset, max_position", [
    (mutants.correct_hf, 0, 2), (mutants.correct_hf, 0, 100), (mutants.correct_hf, 0, 3000),
    (mutants.correct_hf, 0, 70000), (SHIFTED_BACK_5, -5, 100), (SHIFTED_BACK_5, -5, 70000)])
def test_never_called_at_or_past_max_position(fn, offset, max_position):
    """Every call (frequency probe, verification shifted by a negative offset, width probe)
    stays below max_position."""
    calls = Recorded(fn)
    result = fit(calls, max_position=max_position)
    assert result.position_offset == offset and result.rotary_dim == 64
    assert max(calls.largest) == max_position - 1
    assert any("--max-position" in note for note in result.not_probed)


def test_negative_offset_leaves_no_position_to_verify():
    """Positions 0 and 1 fit offset -5, but the check needs positions >= 5: refused, not guessed."""
    calls = Recorded(SHIFTED_BACK_5)
    result = identify.identify(calls, max_position=2)
    assert not result.explained and result.position_offset == -5
    assert "leaves no position to verify the fit at (not verified because of --max-position)" in result.message
    assert max(calls.largest) == 1


def test_max_position_1_leaves_nothing_to_fit():
    calls = Recorded(mutants.correct_hf)
    result = identify.identify(calls, max_position=1)
    assert not result.explained and "not probed because of --max-position" in result.message
    assert calls.largest == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "2048"])
def test_max_position_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="max_position"):
        identify.identify(mutants.correct_hf, max_position=bad)


def test_table_2048_clamped_is_correct_below_its_table():
    """The clamped 2048-row table is refused when probed past it, identified below it."""
    assert not identify.identify(boundary_mutants.table_2048_clamped).explained
    assert_convention(fit(boundary_mutants.table_2048_clamped, max_position=2048), "half_split", 10000.0, 64)


# ---------------------------------------------------------------- partial rotary widths


@pytest.mark.parametrize("name, head_dim, ladder_dims, slip", [
    ("rotary_width_int_truncation", 98, 63, "width truncated: int(98 * (64/98)) = 63"),
    ("rotary_width_even_floor", 98, 62, "width truncated: int(98 * (64/98)) // 2 * 2 = 62"),
    ("rotary_width_round_two_decimals", 192, 63,
     "width rounded: round(192 * round(64/192, 2)) = round(192 * 0.33) = 63"),
])
def test_width_slips_reported_with_the_width_rotated(name, head_dim, ladder_dims, slip):
    """Right at rotary_dim = head_dim (the main probe); asked for 64 of head_dim 98 or 192
    they rotate 62 dims, and the slip that gives that width is named."""
    result = fit(getattr(boundary_mutants, name))
    assert_convention(result, "half_split", 10000.0, 64)
    (wrong,) = [w for w in result.rotary_width if not w.ok]
    assert (wrong.rotary_dim, wrong.head_dim, wrong.rotated, wrong.ladder_dims) == (64, head_dim, 62, ladder_dims)
    assert wrong.slip == slip
    expected = f"asked for rotary_dim 64 of head_dim {head_dim}, rotates 62 dims ({slip}"
    assert wrong.message.startswith(expected) and expected in result.message
    (right,) = [w for w in result.rotary_width if w.ok]
    assert right.rotated == 64 and right.message.endswith("rotates 64 dims")
    assert [w["slip"] for w in result.to_json()["rotary_width"]] == [w.slip for w in result.rotary_width]


def test_width_slip_found_next_to_another_bug():
    """float64 computed in float32 stays within identify's tolerance; the width slip is still named."""
    result = fit(boundary_mutants.float32_and_int_truncation)
    assert [w.slip for w in result.rotary_width] == ["width truncated: int(98 * (64/98)) = 63", None]


@pytest.mark.parametrize("name", sorted(boundary_mutants.CORRECT))
def test_correct_boundary_implementations_rotate_the_width_asked(name):
    result = fit(getattr(boundary_mutants, name))
    assert_convention(result, "half_split", 10000.0, 64)
    assert [(w.rotated, w.ladder_dims, w.ok, w.slip) for w in result.rotary_width] == [(64, 64, True, None)] * 2
    assert "partial rotary" not in result.message


def test_hard_coded_width_is_not_called_a_slip():
    result = fit(lambda x, p, c: mutants.correct_hf(x, p, c.replace(rotary_dim=32)))
    assert [(w.rotated, w.slip) for w in result.rotary_width] == [(32, None), (32, None)]
    assert "its own width: it rotated 32 of the 64 asked in the main probe too" in result.rotary_width[0].message


def test_width_probe_failure_is_a_note_not_a_refusal():
    """A callable that only takes head_dim 64 is still identified; the width is not measured."""
    def head_dim_64_only(x, positions, config):
        if x.shape[-1] != 64:
            raise ValueError("head_dim must be 64")
        return mutants.correct_hf(x, positions, config)

    result = fit(head_dim_64_only)
    assert [w.rotated for w in result.rotary_width] == [None, None]
    assert "width not measured: the callable raised ValueError: head_dim must be 64" in result.rotary_width[0].message


@pytest.mark.parametrize("rotary_dim, head_dim, widths", [
    (64, 98, [63, 62]), (64, 192, [63]), (64, 64, []), (32, 96, [])])
def test_width_slips_table(rotary_dim, head_dim, widths):
    assert [w for _, w in identify.width_slips(rotary_dim, head_dim)] == widths


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
    (["identify", "ropecheck.variants:half_split", "--max-position", "0"],
     "--max-position: expected a positive integer, got '0'"),
    (["identify", "ropecheck.variants:half_split", "--max-position=-2048"],
     "--max-position: expected a positive integer, got '-2048'"),
    (["identify", "ropecheck.variants:half_split", "--max-position", "2048.0"],
     "--max-position: expected a positive integer, got '2048.0'"),
    (["identify", "ropecheck.variants:half_split", "--max-position", "2k"],
     "--max-position: expected a positive integer, got '2k'"),
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


def run_module(*args, cwd):
    """``python -m ropecheck identify ...``."""
    return subprocess.run([sys.executable, "-m", "ropecheck", "identify", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("value", ["0", "-1", "2.5", "lots"])
def test_cli_subprocess_max_position_usage_error(tmp_path, value):
    proc = run_module("ropecheck.variants:half_split", f"--max-position={value}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == f"ropecheck: error: --max-position: expected a positive integer, got {value!r}\n"
    assert proc.stdout == ""


@pytest.mark.slow
def test_cli_subprocess_gptj_table_2048(tmp_path):
    """Exit 1 (IndexError) without --max-position, 0 with --max-position 2048, and the JSON
    and the notes say what was not probed."""
    write_module(tmp_path, "gptj2048", "import torch\n\nGPTJ_TABLE_ROWS = 2048\n\n\n"
                 + inspect.getsource(gptj_table_2048))
    refused = run_module("gptj2048:gptj_table_2048", cwd=tmp_path)
    assert refused.returncode == 1 and "raised IndexError" in refused.stdout, refused.stdout + refused.stderr
    out = tmp_path / "id.json"
    proc = run_module("gptj2048:gptj_table_2048", "--max-position", "2048", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert (data["pairing"], data["base"], data["rotary_dim"], data["max_position"]) == ("interleaved", 10000.0, 64, 2048)
    assert "not probed because of --max-position 2048" in data["not_probed"][0]
    assert "note: positions 2048, 4096" in proc.stdout and "max_position     2048" in proc.stdout


def test_cli_in_process_reports_the_width_slip(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT / "tests")
    monkeypatch.setattr(sys, "path", list(sys.path))
    out = tmp_path / "id.json"
    assert cli.main(["identify", "boundary_mutants:rotary_width_even_floor", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    slip = "asked for rotary_dim 64 of head_dim 98, rotates 62 dims (width truncated: int(98 * (64/98)) // 2 * 2 = 62)"
    assert f"rotary_width     {slip}" in text and f"but partial rotary: {slip}" in text
    assert [w["rotated"] for w in json.loads(out.read_text())["rotary_width"]] == [62, 64]


def test_cli_cuda_without_cuda_is_a_usage_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert cli.main(["identify", "ropecheck.variants:half_split", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
