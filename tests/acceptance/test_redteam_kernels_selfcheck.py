"""Self-check of the red-team implementations in ``kernel_mutants`` and
``boundary_mutants``, against the float64 oracle only (no other part of ropecheck):

- every CORRECT implementation equals ``oracle.rope`` on fixed inputs in float32 and
  float64 (relative error max |y - y*| / max |x| below 1e-5 and 1e-10: a float64 angle
  m * inv_freq itself loses ~m * 1e-16 rad at positions m up to 2**17), in every form it
  claims (GQA/MQA/MHA, separate tensors and views into a fused qkv buffer, packed with
  empty and one-token sequences and sequences longer than a tile);
- every MUTANT differs from the oracle on an input built for its bug, and (where its bug
  is a boundary one) agrees with it on an input that stays clear of that boundary, so no
  mutant is accidentally correct nor trivially broken.
"""

from __future__ import annotations

import pytest
import torch

import boundary_mutants as bm
import kernel_mutants as km
from ropecheck import RopeConfig, oracle

TOL = {torch.float32: 1e-5, torch.float64: 1e-10,  # float64: angles m * inv_freq lose ~m * 1e-16 rad
       torch.bfloat16: 1e-2, torch.float16: 2e-3}  # output rounding of the claimed low-precision dtypes


def tol64(high: int) -> float:
    """What a float64 product m * inv_freq may lose at positions below ``high``."""
    return max(TOL[torch.float64], 8 * high * 2.0**-52)
WRONG = 1e-3  # a mutant's error on its trigger is at least this (unless noted)


# ---------------------------------------------------------------- inputs and references


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel_err(y: torch.Tensor, ref: torch.Tensor, x: torch.Tensor) -> float:
    """max |y - ref| / max |x|, in float64; inf when y is not finite or of another shape."""
    if tuple(y.shape) != tuple(ref.shape):
        return float("inf")
    y64 = y.detach().to(torch.float64)
    if not torch.isfinite(y64).all():
        return float("inf")
    scale = float(x.detach().to(torch.float64).abs().max()) if x.numel() else 1.0
    return float((y64 - ref).abs().max()) / max(scale, 1e-300) if y.numel() else 0.0


def config(d: int, rd: int, pairing: str, base: float = 10000.0) -> RopeConfig:
    return RopeConfig(base=base, rotary_dim=rd, pairing=pairing, head_dim=d)


def rows_positions(b: int, s: int, kind: str, gen, high: int = 2**17, offsets=None) -> torch.Tensor:
    """(b, s) int64: ``"any"`` random in [0, high); ``"consecutive"`` offset + 0, 1, ..."""
    if kind == "any":
        return torch.randint(0, high, (b, s), generator=gen)
    if offsets is None:
        offsets = torch.randint(0, high - s, (b,), generator=gen)
    return torch.as_tensor(offsets, dtype=torch.int64)[:, None] + torch.arange(s)[None, :]


def make_qk(b, s, hq, hk, d, layout, dtype, gen):
    """q (b, s, hq, d), k (b, s, hk, d), and v when fused, in one of three layouts."""
    if layout == "fused":
        buf = torch.randn(b, s, hq + 2 * hk, d, generator=gen, dtype=torch.float64).to(dtype)
        return buf[:, :, :hq], buf[:, :, hq:hq + hk], buf[:, :, hq + hk:], buf
    if layout == "transposed":
        q = torch.randn(b, hq, s, d, generator=gen, dtype=torch.float64).to(dtype).transpose(1, 2)
        k = torch.randn(b, hk, s, d, generator=gen, dtype=torch.float64).to(dtype).transpose(1, 2)
        return q, k, None, None
    q = torch.randn(b, s, hq, d, generator=gen, dtype=torch.float64).to(dtype)
    k = torch.randn(b, s, hk, d, generator=gen, dtype=torch.float64).to(dtype)
    return q, k, None, None


def packed_positions(lens, kind: str, gen, high: int = 2**17, offsets=None) -> tuple[torch.Tensor, torch.Tensor]:
    """positions (total,) int64 and cu_seqlens (len(lens) + 1,) int32."""
    cu = torch.zeros(len(lens) + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(torch.tensor(lens, dtype=torch.int32), 0)
    parts = []
    for i, n in enumerate(lens):
        if kind == "any":
            parts.append(torch.randint(0, high, (n,), generator=gen))
        else:
            off = int(torch.randint(0, high - max(n, 1), (), generator=gen)) if offsets is None else offsets[i]
            parts.append(off + torch.arange(n))
    pos = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)
    return pos.to(torch.int64), cu


def ref_bshd(x, pos, cfg):
    return oracle.rope(x, pos, cfg)


def ref_tokens(x, pos, cfg):
    return oracle.rope(x[None], pos[None], cfg)[0]


# ---------------------------------------------------------------- running one form


def run_qk(fn, *, b=2, s=5, hq=4, hk=2, d=16, rd=16, pairing="half_split", layout="separate",
           dtype=torch.float32, pos_kind="any", positions=None, seed=0, base=10000.0, same_qk=False):
    """Errors of a qk (unpacked) callable: {"q": ..., "k": ..., "v_changed": bool}."""
    gen = _gen(seed)
    cfg = config(d, rd, pairing, base)
    q, k, v, _ = make_qk(b, s, hq, hk, d, layout, dtype, gen)
    if same_qk:
        k.copy_(q[:, :, :hk])
    pos = rows_positions(b, s, pos_kind, gen) if positions is None else positions
    q0, k0 = q.clone(), k.clone()
    v0 = None if v is None else v.clone()
    rq, rk = ref_bshd(q0, pos, cfg), ref_bshd(k0, pos, cfg)
    q_out, k_out = fn(q, k, pos, cfg)
    return {"q": rel_err(q_out, rq, q0), "k": rel_err(k_out, rk, k0),
            "v_changed": v is not None and not torch.equal(v, v0),
            "q_in_changed": not torch.equal(q, q0), "k_in_changed": not torch.equal(k, k0),
            "same_objects": q_out is q and k_out is k}


def run_packed(fn, lens, *, heads=3, d=16, rd=16, pairing="half_split", dtype=torch.float32,
               pos_kind="consecutive", offsets=None, seed=0, qk=False, hk=1, layout="separate", base=10000.0):
    """Error of a packed callable (x or qk): max over outputs, and whether v changed."""
    gen = _gen(seed)
    cfg = config(d, rd, pairing, base)
    pos, cu = packed_positions(lens, pos_kind, gen, offsets=offsets)
    total = int(cu[-1])
    if not qk:
        x = torch.randn(total, heads, d, generator=gen, dtype=torch.float64).to(dtype)
        x0 = x.clone()
        y = fn(x, pos, cfg, cu_seqlens=cu)
        return {"err": rel_err(y, ref_tokens(x0, pos, cfg), x0), "v_changed": False}
    q, k, v, _ = make_qk(1, total, heads, hk, d, layout, dtype, gen)
    q, k = q[0], k[0]
    v = None if v is None else v[0]
    q0, k0 = q.clone(), k.clone()
    v0 = None if v is None else v.clone()
    q_out, k_out = fn(q, k, pos, cfg, cu_seqlens=cu)
    err = max(rel_err(q_out, ref_tokens(q0, pos, cfg), q0), rel_err(k_out, ref_tokens(k0, pos, cfg), k0))
    return {"err": err, "v_changed": v is not None and not torch.equal(v, v0)}


def run_x(fn, *, b=2, s=5, h=3, d=16, rd=16, pairing="half_split", dtype=torch.float32,
          positions=None, high=2**17, seed=0, base=10000.0):
    """Error of an ordinary x callable."""
    gen = _gen(seed)
    cfg = config(d, rd, pairing, base)
    x = torch.randn(b, s, h, d, generator=gen, dtype=torch.float64).to(dtype)
    pos = torch.randint(0, high, (b, s), generator=gen) if positions is None else positions
    x0 = x.clone()
    y = fn(x, pos, cfg)
    assert torch.equal(x, x0), "wrote into x"
    return rel_err(y, ref_bshd(x0, pos, cfg), x0)


# ---------------------------------------------------------------- correct implementations

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


def _claims(spec, dtype) -> bool:
    return str(dtype).removeprefix("torch.") in spec["dtypes"]
QK_SHAPES = [dict(hq=4, hk=2), dict(hq=4, hk=1), dict(hq=3, hk=3)]  # GQA, MQA, MHA
LAYOUTS = ["separate", "fused", "transposed"]
PACKED_LENS = [[3, 0, 1, 70, 0, 5], [130], [1, 1, 1], [0, 2, 0]]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(km.CORRECT))
def test_kernel_correct_matches_oracle(name, dtype):
    fn, spec = getattr(km, name), km.CORRECT[name]["spec"]
    if not _claims(spec, dtype):
        pytest.skip(f"{name} does not claim {dtype}")
    tol, pairing = TOL[dtype], spec["pairing"]
    pos_kind = spec["positions"]
    for d, rd in ((16, 16), (20, 12)):
        if spec["signature"] == "qk" and not spec["packed"]:
            for shape in QK_SHAPES:
                for layout in LAYOUTS:
                    for s in (1, 5, 70):
                        r = run_qk(fn, s=s, d=d, rd=rd, pairing=pairing, layout=layout, dtype=dtype,
                                   pos_kind=pos_kind, **shape)
                        assert r["q"] < tol and r["k"] < tol, (shape, layout, s, r)
                        assert not r["v_changed"]
                        if spec["inplace"]:
                            assert r["same_objects"]
                        else:
                            assert not (r["q_in_changed"] or r["k_in_changed"])
        elif spec["signature"] == "qk":
            for lens in PACKED_LENS:
                for shape in QK_SHAPES:
                    for layout in ("separate", "fused"):
                        r = run_packed(fn, lens, heads=shape["hq"], hk=shape["hk"], d=d, rd=rd,
                                       pairing=pairing, dtype=dtype, pos_kind=pos_kind, qk=True,
                                       layout=layout)
                        assert r["err"] < tol and not r["v_changed"], (lens, shape, layout, r)
        elif spec["packed"]:
            for lens in PACKED_LENS:
                r = run_packed(fn, lens, d=d, rd=rd, pairing=pairing, dtype=dtype, pos_kind=pos_kind)
                assert r["err"] < tol, (lens, r)
        else:
            for s in (1, 7):
                assert run_x(fn, s=s, d=d, rd=rd, pairing=pairing, dtype=dtype) < tol


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(bm.CORRECT))
def test_boundary_correct_matches_oracle(name, dtype):
    fn, spec = getattr(bm, name), bm.CORRECT[name]["spec"]
    if not _claims(spec, dtype):
        pytest.skip(f"{name} does not claim {dtype}")
    pairing = spec["pairing"]
    bm.reset_caches()
    for d, rd in ((16, 16), (98, 64), (192, 64), (20, 12)):
        for s in (1, 70):
            assert run_x(fn, s=s, d=d, rd=rd, pairing=pairing, dtype=dtype) < TOL[dtype], (d, rd, s)


def test_cached_table_is_right_after_any_history():
    """The correct cache survives the histories that break the three cache mutants."""
    bm.reset_caches()
    fn = bm.x_cached_table
    assert run_x(fn, dtype=torch.bfloat16, high=4000) < 1e-2
    assert run_x(fn, high=100) < TOL[torch.float32]
    assert run_x(fn, high=50, base=500000.0) < TOL[torch.float32]
    assert run_x(fn, dtype=torch.float64, high=2**17) < TOL[torch.float64]


CORRECT_ALL = [(km, n) for n in sorted(km.CORRECT)] + [(bm, n) for n in sorted(bm.CORRECT)]


@pytest.mark.parametrize("module,name", CORRECT_ALL, ids=[n for _, n in CORRECT_ALL])
def test_correct_gradients_are_the_inverse_rotation(module, name):
    """Where a correct one claims differentiable, its VJP (in float64, or float32 when it
    does not claim float64) is the oracle's inverse rotation (RoPE is orthogonal)."""
    fn, spec = getattr(module, name), module.CORRECT[name]["spec"]
    if not spec["differentiable"]:
        pytest.skip("not differentiable (in place)")
    bm.reset_caches()
    gen = _gen(3)
    dt = torch.float64 if _claims(spec, torch.float64) else torch.float32
    cfg = config(20, 12, spec["pairing"])
    if spec["packed"]:
        pos, cu = packed_positions([3, 0, 70, 1], spec["positions"], gen)
        shapes = [(int(cu[-1]), 4, 20), (int(cu[-1]), 2, 20)]
        pos_b = pos[None]
    else:
        pos = rows_positions(2, 5, spec["positions"], gen)
        shapes = [(2, 5, 4, 20), (2, 5, 2, 20)]
        pos_b = pos
    n = 2 if spec["signature"] == "qk" else 1
    ins = [torch.randn(*sh, generator=gen, dtype=dt).requires_grad_() for sh in shapes[:n]]
    kw = {"cu_seqlens": cu} if spec["packed"] else {}
    outs = fn(*ins, pos, cfg, **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    gs = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(dt) for o in outs]
    torch.autograd.backward(outs, gs)
    for x, g in zip(ins, gs):
        want = oracle.rope_inverse(g[None] if spec["packed"] else g, pos_b, cfg)
        want = want[0] if spec["packed"] else want
        assert rel_err(x.grad, want, g) < TOL[dt]


# ---------------------------------------------------------------- mutants: scenarios
# Each returns (benign error or None, trigger error); the trigger must exceed its bound,
# the benign input must stay within float32 rounding.

def _pos(b, s, start):
    """(b, s) positions start + 0, 1, ... for every row."""
    return start + torch.arange(s)[None, :].expand(b, s).clone()


KERNEL_SCENARIOS = {
    "qk_cross_wired": lambda f: (
        max(run_qk(f, hq=2, hk=2, same_qk=True).values()),  # q == k: cross-wiring invisible
        max(run_qk(f, hq=2, hk=2)["q"], run_qk(f, hq=2, hk=2)["k"])),
    "k_addressed_with_q_token_stride": lambda f: (
        run_packed(f, [4, 3], heads=2, hk=2, qk=True, pos_kind="any")["err"],
        run_packed(f, [4, 3], heads=4, hk=2, qk=True, pos_kind="any")["err"]),
    "k_assumed_contiguous": lambda f: (
        run_qk(f, hq=4, hk=2)["k"],
        run_qk(f, hq=4, hk=2, layout="fused")["k"]),
    "k_head_count_from_q": lambda f: (
        run_packed(f, [4, 3], heads=2, hk=2, qk=True, pos_kind="any", layout="fused")["err"],
        run_packed(f, [4, 3], heads=4, hk=2, qk=True, pos_kind="any")["err"]),
    "k_token_index_from_q_heads": lambda f: (
        run_packed(f, [4, 3], heads=2, hk=2, qk=True, pos_kind="any")["err"],
        run_packed(f, [4, 3], heads=4, hk=1, qk=True, pos_kind="any")["err"]),
    "qk_decode_first_matrix_only": lambda f: (
        max(run_qk(f, s=3)["q"], run_qk(f, s=3)["k"]),
        run_qk(f, s=1, b=2)["q"]),
    "qk_k_not_rotated": lambda f: (
        run_qk(f, positions=torch.zeros(2, 5, dtype=torch.int64))["k"],
        run_qk(f)["k"]),
    "qk_k_offset_dropped": lambda f: (
        run_qk(f, positions=_pos(2, 5, 0))["k"],
        run_qk(f, pos_kind="consecutive")["k"]),
    "qk_inplace_rotates_v": lambda f: (
        max(run_qk(f)["q"], run_qk(f)["k"], float(run_qk(f)["v_changed"])),
        float(run_qk(f, layout="fused")["v_changed"])),
    "qk_inplace_lost_on_copy": lambda f: (
        max(run_qk(f)["q"], run_qk(f)["k"]),
        max(run_qk(f, layout="fused")["q"], run_qk(f, layout="fused")["k"])),
    "packed_drops_empty_sequences": lambda f: (
        run_packed(f, [3, 5, 2])["err"],
        run_packed(f, [3, 0, 5, 2])["err"]),
    "packed_padded_cu_seqlens_load": lambda f: (
        run_packed(f, [3, 5, 2])["err"],
        run_packed(f, [3, 5])["err"]),
    "packed_boundary_token_previous_sequence": lambda f: (
        run_packed(f, [9])["err"],
        run_packed(f, [3, 5])["err"]),
    "packed_neighbour_offset": lambda f: (
        run_packed(f, [1])["err"],
        run_packed(f, [3, 5])["err"]),
    "packed_last_sequence_skipped": lambda f: (
        run_packed(f, [3, 4, 0], pos_kind="any")["err"],
        run_packed(f, [3, 4], pos_kind="any")["err"]),
    "packed_tile_offset_lost": lambda f: (
        run_packed(f, [64, 10, 0])["err"],
        run_packed(f, [100])["err"]),
    "packed_consecutive_offset_zero": lambda f: (
        run_packed(f, [3, 0, 5], offsets=[0, 0, 0])["err"],
        run_packed(f, [3, 0, 5])["err"]),
    "packed_consecutive_first_offset_everywhere": lambda f: (
        run_packed(f, [6])["err"],
        run_packed(f, [3, 5])["err"]),
    "packed_decode_pairing_hardcoded": lambda f: (
        run_packed(f, [3, 2], qk=True, heads=2, pairing="interleaved")["err"],
        run_packed(f, [1, 1, 0], qk=True, heads=2, pairing="interleaved")["err"]),
}


def _hist(*calls):
    """Run calls in a fresh module state; the error of the last one."""
    bm.reset_caches()
    errs = [c() for c in calls]
    return errs[-1]


_LOW = torch.tensor([[5, 1000, 2047, 30000], [0, 1, 17, 32767]])


BOUNDARY_SCENARIOS = {
    "rotary_width_int_truncation": lambda f: (run_x(f, d=128, rd=64), run_x(f, d=98, rd=64)),
    "rotary_width_even_floor": lambda f: (run_x(f, d=128, rd=64), run_x(f, d=98, rd=64)),
    "rotary_width_round_two_decimals": lambda f: (run_x(f, d=128, rd=64), run_x(f, d=192, rd=64)),
    "positions_int16": lambda f: (run_x(f, high=2**15), run_x(f, positions=torch.tensor([[32768, 40000]]), b=1, s=2)),
    "positions_float16": lambda f: (run_x(f, high=2049), run_x(f, positions=torch.tensor([[2049, 4097]]), b=1, s=2)),
    "positions_float32": lambda f: (
        run_x(f, dtype=torch.float64, high=2**24) / tol64(2**24) * TOL[torch.float32],
        run_x(f, dtype=torch.float64, positions=torch.tensor([[2**24 + 1, 2**24 + 3]]), b=1, s=2)),
    "table_2048_clamped": lambda f: (run_x(f, high=2048), run_x(f, positions=torch.tensor([[3000, 2048]]), b=1, s=2)),
    "table_4096_modulo": lambda f: (run_x(f, high=4096), run_x(f, positions=torch.tensor([[5000, 4096]]), b=1, s=2)),
    "table_32768_clamped": lambda f: (run_x(f, s=4, positions=_LOW), run_x(f, positions=torch.tensor([[40000, 32768]]), b=1, s=2)),
    "tile_positions_lost_64": lambda f: (run_x(f, s=64), run_x(f, s=100)),
    "tile_positions_lost_128": lambda f: (run_x(f, s=128, b=1, h=1), run_x(f, s=150, b=1, h=1)),
    "sin_sign_flipped_past_2048": lambda f: (run_x(f, high=2048), run_x(f, positions=torch.tensor([[2048, 3001]]), b=1, s=2)),
    "half_split_table_interleaved_rotation": lambda f: (
        run_x(f, d=4, rd=2, pairing="interleaved"), run_x(f, pairing="interleaved")),
    "output_pairs_deinterleaved": lambda f: (
        run_x(f, d=4, rd=2, pairing="interleaved"), run_x(f, pairing="interleaved")),
    "all_ones_frequency_ladder": lambda f: (run_x(f, d=4, rd=2), run_x(f)),
    "first_head_only": lambda f: (run_x(f, h=1), run_x(f, h=4)),
    "decode_rows_take_row0_positions": lambda f: (
        run_x(f, b=3, s=2), run_x(f, b=3, s=1, positions=torch.tensor([[5], [900], [70000]]))),
    "last_pair_sign_flipped": lambda f: (run_x(f, positions=torch.zeros(2, 5, dtype=torch.int64)), run_x(f)),
    "float64_computed_in_float32": lambda f: (
        run_x(f, dtype=torch.float32), run_x(f, dtype=torch.float64) / TOL[torch.float64] * WRONG),
    "cos_table_float16": lambda f: (
        run_x(f, positions=torch.zeros(2, 5, dtype=torch.int64)), run_x(f) / 2e-5 * WRONG),
    "angles_float16": lambda f: (run_x(f, d=4, rd=2, high=2048), run_x(f)),
    "cache_dtype_sticky": lambda f: (
        _hist(lambda: run_x(f, high=500)),
        # bfloat16 cos/sin: ~2e-3 relative, 100x float32 rounding and more
        _hist(lambda: run_x(f, dtype=torch.bfloat16, high=1000), lambda: run_x(f, high=500, seed=1)) / 1e-4 * WRONG),
    "cache_length_frozen": lambda f: (
        _hist(lambda: run_x(f, high=5000)),
        _hist(lambda: run_x(f, high=100), lambda: run_x(f, high=5000, seed=1))),
    "cache_ignores_base": lambda f: (
        _hist(lambda: run_x(f, high=5000, base=500000.0)),
        _hist(lambda: run_x(f, high=5000), lambda: run_x(f, high=5000, seed=1, base=500000.0))),
    "float32_and_int_truncation": lambda f: (
        run_x(f, d=128, rd=64, dtype=torch.float32),
        run_x(f, d=98, rd=64, dtype=torch.float64)),
}


def test_every_mutant_has_a_scenario():
    assert set(KERNEL_SCENARIOS) == set(km.MUTANTS)
    assert set(BOUNDARY_SCENARIOS) == set(bm.MUTANTS)


@pytest.mark.parametrize("name", sorted(km.MUTANTS))
def test_kernel_mutant_is_wrong_on_its_trigger(name):
    benign, trigger = KERNEL_SCENARIOS[name](getattr(km, name))
    assert trigger > WRONG, f"{name}: accidentally correct on its trigger ({trigger:.3g})"
    if benign is not None:
        assert benign < TOL[torch.float32], f"{name}: wrong away from its boundary ({benign:.3g})"


@pytest.mark.parametrize("name", sorted(bm.MUTANTS))
def test_boundary_mutant_is_wrong_on_its_trigger(name):
    benign, trigger = BOUNDARY_SCENARIOS[name](getattr(bm, name))
    bm.reset_caches()
    assert trigger > WRONG, f"{name}: accidentally correct on its trigger ({trigger:.3g})"
    if benign is not None:
        assert benign < TOL[torch.float32], f"{name}: wrong away from its boundary ({benign:.3g})"


def test_two_bugs_are_each_visible_alone():
    """float32_and_int_truncation: the precision bug alone (a width that truncates right)
    and the width bug alone (float32 input) both show."""
    f = bm.float32_and_int_truncation
    assert run_x(f, d=128, rd=64, dtype=torch.float64) > 100 * TOL[torch.float64]
    assert run_x(f, d=98, rd=64, dtype=torch.float32) > WRONG


def test_head_count_mutant_writes_past_k_in_fused_buffer():
    r = run_packed(km.k_head_count_from_q, [4, 3], heads=4, hk=1, qk=True, pos_kind="any", layout="fused")
    assert r["v_changed"]


# ---------------------------------------------------------------- manifests

SPEC_VALUES = {"pairing": {"interleaved", "half_split"}, "signature": {"x", "qk"},
               "positions": {"any", "consecutive"}}
DTYPE_NAMES = {"float32", "float64", "bfloat16", "float16"}


@pytest.mark.parametrize("module", [km, bm], ids=["kernel", "boundary"])
def test_manifest(module):
    assert not set(module.MUTANTS) & set(module.CORRECT)
    for name, entry in {**module.MUTANTS, **module.CORRECT}.items():
        fn = getattr(module, name)
        assert callable(fn) and fn.__doc__
        spec = entry["spec"]
        for key, allowed in SPEC_VALUES.items():
            assert spec[key] in allowed, (name, key)
        assert spec["base"] == "any" and set(spec["dtypes"]) <= DTYPE_NAMES
        assert isinstance(spec["packed"], bool) and isinstance(spec["inplace"], bool)
        assert isinstance(spec["max_position"], int)
        if name in module.MUTANTS:
            assert entry["bug"] and entry["class"]
            assert "BUG" in fn.__doc__
        else:
            assert fn.__doc__.startswith("Correct")
