"""ropecheck.tables: exact cos/sin tables in every kernel layout.

Each layout, used in float64 the way the kernels that take it use it, reproduces
``oracle.rope`` to ~1e-15; in a lower dtype every entry is the float64 value rounded once
(the dtype's nearest value, ties to even); positions of any leading shape.
"""

import subprocess
import sys
from fractions import Fraction

import pytest
import torch

from ropecheck import RopeConfig, oracle, tables

from harness import ROOT
LOW = [torch.float32, torch.bfloat16, torch.float16]

CONFIGS = [
    RopeConfig(base=10000.0, rotary_dim=16, pairing="half_split", head_dim=16),
    RopeConfig(base=500.0, rotary_dim=6, pairing="interleaved", head_dim=10),  # partial
    RopeConfig(base=1e6, rotary_dim=8, pairing="half_split", head_dim=12,
               scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}),  # af != 1
    RopeConfig(base=10000.0, rotary_dim=8, pairing="interleaved", head_dim=8,
               scaling={"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": 16}),
]
IDS = ["full", "partial", "yarn", "dynamic"]
POSITIONS = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 100, 2047, 131071]])


def _x(config, positions, heads=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*positions.shape[:2], heads, config.head_dim, dtype=torch.float64, generator=gen)


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def _rotate_every_two(x):
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def _assert_close(y, ref):
    assert y.dtype == torch.float64
    err = (y - ref).abs().max().item()
    assert err <= 4e-15 * max(1.0, ref.abs().max().item()), err


def _apply_full_width(x, cos, sin, config):
    """``x * cos + rotate(x) * sin`` on the first R dims (HF / GPT-J style), the rest passed."""
    r = config.rotary_dim
    rot = _rotate_half if config.pairing == "half_split" else _rotate_every_two
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    head = x[..., :r] * cos + rot(x[..., :r]) * sin
    return torch.cat((head, x[..., r:]), dim=-1)


# ---------------------------------------------------------------- each layout against the oracle


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_half_rotates_like_the_oracle(config):
    x = _x(config, POSITIONS)
    cos, sin = tables.half(POSITIONS, config, torch.float64)
    assert cos.shape == sin.shape == (2, 5, config.rotary_dim // 2)
    y = oracle.rotate_pairs(x, cos[:, :, None, :], sin[:, :, None, :], config)
    _assert_close(y, oracle.rope(x, POSITIONS, config))


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.pairing == "half_split"], ids=["full", "yarn"])
def test_duplicated_is_what_rotate_half_code_takes(config):
    x = _x(config, POSITIONS)
    cos, sin = tables.duplicated(POSITIONS, config, torch.float64)
    assert cos.shape == (2, 5, config.rotary_dim)
    assert torch.equal(cos[..., : config.rotary_dim // 2], cos[..., config.rotary_dim // 2:])
    _assert_close(_apply_full_width(x, cos, sin, config), oracle.rope(x, POSITIONS, config))


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.pairing == "interleaved"], ids=["partial", "dynamic"])
def test_repeat_interleave_is_what_interleaved_code_takes(config):
    x = _x(config, POSITIONS)
    cos, sin = tables.repeat_interleave(POSITIONS, config, torch.float64)
    assert cos.shape == (2, 5, config.rotary_dim)
    assert torch.equal(cos[..., 0::2], cos[..., 1::2])
    _assert_close(_apply_full_width(x, cos, sin, config), oracle.rope(x, POSITIONS, config))


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.pairing == "interleaved"], ids=["partial", "dynamic"])
def test_freqs_cis_is_meta_llamas(config):
    """Meta's ``apply_rotary_emb``: x as complex pairs times ``freqs_cis``."""
    x = _x(config, POSITIONS)
    fc = tables.freqs_cis(POSITIONS, config, torch.complex128)
    assert fc.shape == (2, 5, config.rotary_dim // 2) and fc.dtype == torch.complex128
    r = config.rotary_dim
    xc = torch.view_as_complex(x[..., :r].reshape(*x.shape[:-1], r // 2, 2).contiguous())
    head = torch.view_as_real(xc * fc[:, :, None, :]).flatten(-2)
    _assert_close(torch.cat((head, x[..., r:]), dim=-1), oracle.rope(x, POSITIONS, config))


def test_freqs_cis_complex64_has_each_part_rounded_once():
    config = CONFIGS[2]
    fc = tables.freqs_cis(POSITIONS, config)
    c, s = tables.half(POSITIONS, config, torch.float32)
    assert fc.dtype == torch.complex64 and torch.equal(fc.real, c) and torch.equal(fc.imag, s)
    with pytest.raises(TypeError, match="complex64 or complex128"):
        tables.freqs_cis(POSITIONS, config, torch.float32)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=IDS[:3])
def test_cos_sin_cache_is_vllms(config):
    """vLLM: ``cos, sin = cos_sin_cache[positions].chunk(2, dim=-1)``, then neox (half_split)
    or GPT-J (interleaved) style rotation of the first rotary_dim dims."""
    x = _x(config, POSITIONS)
    cache = tables.cos_sin_cache(config, int(POSITIONS.max()) + 1, torch.float64)
    assert cache.shape == (131072, config.rotary_dim)
    cos, sin = cache[POSITIONS].chunk(2, dim=-1)
    y = oracle.rotate_pairs(x, cos[:, :, None, :], sin[:, :, None, :], config)
    _assert_close(y, oracle.rope(x, POSITIONS, config))


@pytest.mark.parametrize("config", CONFIGS[:3], ids=IDS[:3])
@pytest.mark.parametrize("dtype", [torch.float64, *LOW])
def test_per_position_rows_are_the_per_token_tables(config, dtype):
    cos, sin = tables.per_position(config, 2048, dtype)
    assert cos.shape == sin.shape == (2048, config.rotary_dim // 2) and cos.dtype == dtype
    pos = torch.tensor([[0, 5, 2047], [3, 3, 1]])
    want = tables.half(pos, config, dtype)
    assert torch.equal(cos[pos], want[0]) and torch.equal(sin[pos], want[1])


def test_a_call_length_dependent_cache_is_taken_at_the_given_length():
    """Dynamic NTK: the frequencies depend on the call's largest position. A cache of 64 rows
    for a call that reaches position 999 is the per-token table of that call."""
    config = CONFIGS[3]
    call = torch.tensor([0, 17, 63, 999])
    cos, sin = tables.per_position(config, 64, torch.float64, length=1000)
    want_c, want_s = tables.half(call, config, torch.float64)
    assert torch.equal(cos[call[:3]], want_c[:3]) and torch.equal(sin[call[:3]], want_s[:3])
    alone, _ = tables.per_position(config, 64, torch.float64)  # length 64: other frequencies
    assert not torch.equal(alone[63], cos[63])
    with pytest.raises(ValueError, match="length 10 < max_position 64"):
        tables.per_position(config, 64, torch.float64, length=10)


# ---------------------------------------------------------------- rounded once


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", LOW)
def test_every_table_is_the_float64_value_rounded_once(config, dtype):
    theta = oracle.angles(POSITIONS, config)
    af = config.attention_factor
    exact_c, exact_s = af * torch.cos(theta), af * torch.sin(theta)
    c, s = tables.half(POSITIONS, config, dtype)
    assert c.dtype == s.dtype == dtype
    assert torch.equal(c, _nearest(exact_c, dtype)) and torch.equal(s, _nearest(exact_s, dtype))
    if dtype == torch.float32:  # float64 -> float32 is one rounding in torch too
        assert torch.equal(c, exact_c.to(dtype)) and torch.equal(s, exact_s.to(dtype))
    dc, ds = tables.duplicated(POSITIONS, config, dtype)
    ic, is_ = tables.repeat_interleave(POSITIONS, config, dtype)
    assert torch.equal(dc, torch.cat((c, c), -1)) and torch.equal(ds, torch.cat((s, s), -1))
    assert torch.equal(ic[..., 0::2], c) and torch.equal(is_[..., 1::2], s)


def _representable(dtype):
    """Every finite value of a 16-bit float dtype, ascending, as float64."""
    values = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype).to(torch.float64)
    return torch.unique(values[torch.isfinite(values)])  # sorted; -0.0 and 0.0 are one value


def _nearest(x, dtype):
    """The correctly rounded value of float64 ``x`` in ``dtype``, by exhaustive search
    (16-bit dtypes) with exact rational comparisons; float32 by torch (one rounding)."""
    if dtype == torch.float32:
        return x.to(dtype)
    grid = _representable(dtype)
    flat = x.flatten()
    hi = torch.searchsorted(grid, flat).clamp(1, len(grid) - 1)
    out = []
    for v, h in zip(flat.tolist(), hi.tolist()):
        lo_v, hi_v = grid[h - 1].item(), grid[h].item()
        d_lo, d_hi = Fraction(v) - Fraction(lo_v), Fraction(hi_v) - Fraction(v)
        if d_lo != d_hi:
            out.append(lo_v if d_lo < d_hi else hi_v)
        else:  # a tie: the even significand, i.e. the one whose last bit is 0
            bits = torch.tensor([lo_v], dtype=torch.float64).to(dtype).view(torch.int16).item()
            out.append(lo_v if bits % 2 == 0 else hi_v)
    return torch.tensor(out, dtype=torch.float64).reshape(x.shape).to(dtype)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_round_once_is_correct_rounding_where_torch_rounds_twice(dtype):
    """torch's float64 -> bfloat16/float16 cast goes through float32: a value just above a
    midpoint lands on it and then ties to even, downwards. ``round_once`` does not."""
    mantissa = 8 if dtype == torch.bfloat16 else 11  # bits of 1 + ulp/2
    x = torch.tensor([1 + 2.0**-mantissa + 2.0**-40, -(1 + 2.0**-mantissa + 2.0**-40),
                      1 + 2.0**-mantissa, 1 + 3 * 2.0**-mantissa], dtype=torch.float64)
    up = 1 + 2.0 ** (1 - mantissa)
    assert x[0].to(dtype).item() == 1.0  # torch: rounded twice, wrong
    assert tables.round_once(x, dtype).tolist() == [up, -up, 1.0, 1 + 4 * 2.0**-mantissa]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_round_once_matches_exhaustive_search_on_hard_values(dtype):
    gen = torch.Generator().manual_seed(7)
    grid = _representable(dtype)
    grid = grid[(grid.abs() > 0) & (grid.abs() < 60000)]
    pick = grid[torch.randint(len(grid) - 1, (400,), generator=gen)]
    nxt = torch.nextafter(pick.to(dtype), torch.tensor(float("inf"), dtype=dtype)).to(torch.float64)
    mid = (pick + nxt) / 2  # exact in float64
    tiny = torch.ldexp(mid.abs(), torch.tensor(-30))
    x = torch.cat([mid, mid + tiny, mid - tiny, torch.randn(400, generator=gen, dtype=torch.float64) * 3,
                   torch.tensor([0.0, -0.0, 1e-9, -1e-9, 2.0**-20, 6.1e-5], dtype=torch.float64)])
    assert torch.equal(tables.round_once(x, dtype), _nearest(x, dtype))


def test_round_once_checks_its_arguments():
    with pytest.raises(TypeError, match="float64"):
        tables.round_once(torch.ones(2), torch.bfloat16)
    with pytest.raises(TypeError, match="expected one of"):
        tables.round_once(torch.ones(2, dtype=torch.float64), torch.int32)


# ---------------------------------------------------------------- positions of any leading shape


@pytest.mark.parametrize("shape", [(7,), (2, 5), (2, 3, 4), (0,), (1, 0)])
def test_positions_of_any_leading_shape(shape):
    config = CONFIGS[1]
    pos = torch.randint(0, 5000, shape, generator=torch.Generator().manual_seed(1))
    c, s = tables.half(pos, config, torch.float32)
    assert c.shape == (*shape, config.rotary_dim // 2)
    flat = tables.half(pos.reshape(-1), config, torch.float32)
    assert torch.equal(c.reshape(-1, config.rotary_dim // 2), flat[0])
    assert tables.duplicated(pos, config, torch.float32)[0].shape == (*shape, config.rotary_dim)
    assert tables.repeat_interleave(pos, config, torch.float32)[1].shape == (*shape, config.rotary_dim)
    assert tables.freqs_cis(pos, config).shape == (*shape, config.rotary_dim // 2)


def test_packed_positions_give_the_rows_of_the_batched_table():
    config = CONFIGS[0]
    packed = POSITIONS.reshape(-1)  # (total_tokens,)
    assert torch.equal(tables.half(packed, config, torch.bfloat16)[1],
                       tables.half(POSITIONS, config, torch.bfloat16)[1].reshape(10, -1))


def test_multi_axis_positions_keep_their_axes_last():
    """M-RoPE: positions (..., 3); batched and packed give the same rows, equal to the oracle's."""
    config = RopeConfig(rotary_dim=12, head_dim=12, scaling={"mrope_section": [1, 2, 3]})
    pos = torch.randint(0, 300, (2, 4, 3), generator=torch.Generator().manual_seed(3))
    c, s = tables.half(pos, config, torch.float64)
    assert c.shape == (2, 4, 6)
    theta = oracle.angles(pos, config)
    assert torch.equal(c, torch.cos(theta)) and torch.equal(s, torch.sin(theta))
    assert torch.equal(tables.half(pos.reshape(8, 3), config, torch.float64)[0], c.reshape(8, 6))
    x = _x(config, pos[..., 0])
    _assert_close(oracle.rotate_pairs(x, c[:, :, None], s[:, :, None], config), oracle.rope(x, pos, config))
    with pytest.raises(ValueError, match=r"takes \(\.\.\., 3\)"):
        tables.half(pos[..., :2], config, torch.float32)
    with pytest.raises(ValueError, match="one position axis"):
        tables.per_position(config, 8, torch.float32)


def test_tables_go_to_the_requested_device_and_reject_float_positions():
    config = CONFIGS[0]
    c, _ = tables.half(POSITIONS, config, torch.float32, device="cpu")
    assert c.device == torch.device("cpu")
    assert tables.cos_sin_cache(config, 4, torch.float16, device="cpu").dtype == torch.float16
    with pytest.raises(TypeError, match="integer tensor"):
        tables.half(POSITIONS.float(), config, torch.float32)
    with pytest.raises(ValueError, match="max_position"):
        tables.per_position(config, -1, torch.float32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_positions_on_cuda_give_tables_on_cuda():
    config = CONFIGS[2]
    c, s = tables.half(POSITIONS.cuda(), config, torch.bfloat16)
    assert c.device.type == "cuda"
    assert torch.equal(c.cpu(), tables.half(POSITIONS, config, torch.bfloat16)[0])


def test_importing_tables_imports_no_other_third_party_library():
    """Beyond torch, numpy and what ``import ropecheck`` itself brings, nothing."""
    code = ("import sys, torch, numpy, ropecheck\n"
            "before = {m.split('.')[0] for m in sys.modules}\n"
            "import ropecheck.tables\n"
            "new = {m.split('.')[0] for m in sys.modules} - before - {'ropecheck'}\n"
            "print(sorted(m for m in new if m not in sys.stdlib_module_names))\n"
            "print(sorted(m for m in ('transformers', 'triton', 'liger_kernel', 'fla', 'mlx', 'sympy', "
            "'hypothesis', 'scipy', 'pandas') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "[]"]
