"""Positions taken from the right place: per_row_positions (each row its own) and
chunked_equals_whole (a sequence cut into calls, as a KV cache's prefill and decode)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import torch
from hypothesis import strategies as st

from ropecheck.properties._base import Subject, register
from ropecheck.properties._calls import agrees_with_oracle, call, judge, keep
from ropecheck.properties._cases import cases, serving_examples, serving_prefill
from ropecheck.scaling import CALL_DEPENDENT
from ropecheck.spec import Spec
from ropecheck.strategies import CaseSetup, Inputs, RopeCase

# ---------------------------------------------------------------- per_row_positions


def _distinct_rows(case: RopeCase) -> bool:
    rows = [r for r in case.positions if r]
    return len(rows) >= 2 and len(set(rows)) == len(rows)


def _rows_can_differ(spec: Spec) -> str | None:
    return None if spec.max_position >= 2 else "max_position = 1 leaves one position: rows cannot differ"


def _row_cases(spec: Spec):
    """Batches whose rows (packed: sequences) differ; half of them batched decode (one
    token per row, many heads among them), where kernels that special-case seq == 1 go
    wrong (ml-explore/mlx#3795, mlx-rs#359)."""
    if spec.packed:
        return cases(spec, min_batch=2, distinct=True)
    decode = cases(spec, min_batch=2, max_seq=1, long_seq=1, distinct=True)
    many = cases(spec, min_batch=2, max_seq=1, long_seq=1, many_heads=True, distinct=True)
    return st.one_of(cases(spec, min_batch=2, distinct=True), decode, many)


def _serving_rows(spec: Spec) -> list[RopeCase]:
    """A decode step of 2049 sequences at different positions, and the prefill's rows."""
    return serving_examples(spec, ("decode",)) + serving_examples(spec, ("prefill",))[:1]


@register("rows with different positions are each rotated by their own", _row_cases, _rows_can_differ,
          weight=2, serving=_serving_rows)
def per_row_positions(subject: Subject, case: RopeCase) -> float:
    """Rows (packed: sequences) at different positions, x ``(batch, seq, heads, head_dim)``,
    each agree with the oracle at their own positions."""
    return agrees_with_oracle(subject, case, "does not honour per-row positions")


# ---------------------------------------------------------------- chunked_equals_whole


@dataclass(frozen=True)
class Split(CaseSetup):
    """Where the case is cut into two calls: the number of tokens of the first call, or
    (packed) one such number per sequence."""

    split: int | tuple[int, ...]


@st.composite
def _chunked_cases(draw, spec: Spec):
    case = draw(cases(spec, min_seq=2), label="case")
    # half the time the serving pattern on purpose: prefill all but the last token, then
    # one decode token per sequence (the path decode fast paths take)
    decode_step = draw(st.booleans(), label="second call is one decode token per sequence")
    if case.packed:
        splits = tuple(max(n - 1, 0) if decode_step else draw(st.integers(0, n), label=f"chunk split of sequence {i}")
                       for i, n in enumerate(case.lengths))
        return replace(case, setup=Split(splits))
    split = case.seq - 1 if decode_step else draw(st.integers(1, case.seq - 1), label="chunk split")
    return replace(case, setup=Split(split))


def _serving_chunked(spec: Spec) -> list[RopeCase]:
    """The prefill, all but the last token of each sequence, then one decode token each."""
    case = serving_prefill(spec)
    if case is None or case.seq < 2:
        return []
    split = tuple(n - 1 for n in case.lengths) if case.packed else case.seq - 1
    return [replace(case, setup=Split(split))]


def _chunks(case: RopeCase, inputs: Inputs) -> tuple[tuple[RopeCase, Inputs, torch.Tensor | None], ...]:
    """The case cut in two calls (prefill, then the rest): (case, inputs, index of its tokens) each."""
    split = case.setup.split
    if not case.packed:
        halves = []
        for part in (slice(None, split), slice(split, None)):
            ops = tuple(x[:, part].clone() for x in inputs.operands)
            sub = replace(case, seq=ops[0].shape[1], positions=tuple(r[part] for r in case.positions))
            halves.append((sub, Inputs(ops, inputs.positions[:, part].contiguous()), None))
        return tuple(halves)
    starts = [0, *itertools.accumulate(case.lengths)]
    out = []
    for head in (True, False):
        index = torch.cat([torch.arange(starts[i], starts[i] + split[i]) if head else
                           torch.arange(starts[i] + split[i], starts[i + 1]) for i in range(len(case.lengths))]).long()
        lengths = tuple(s if head else n - s for n, s in zip(case.lengths, split))
        positions = tuple(r[:s] if head else r[s:] for r, s in zip(case.positions, split))
        sub = replace(case, lengths=lengths, positions=positions, seq=max(lengths))
        dev = inputs.positions.device
        ops = tuple(x[index.to(x.device)].clone() for x in inputs.operands)
        out.append((sub, Inputs(ops, inputs.positions[index.to(dev)], sub.make_cu_seqlens(dev)), index))
    return tuple(out)


def _joined(case: RopeCase, kept, results) -> list[torch.Tensor]:
    """The chunks' outputs put back together, one tensor per operand of kept's shapes."""
    whole = []
    for i in range(len(case.operand_names)):
        pieces = [outs[i].detach().cpu() for *_, outs in results]
        if case.packed:
            y = torch.empty_like(kept[i], device="cpu", dtype=pieces[0].dtype)
            for (_, _, index, _, _), piece in zip(results, pieces):
                y[index] = piece
        else:
            y = torch.cat(pieces, dim=1)
        whole.append(y)
    return whole


@register("prefill in chunks with offsets equals the whole sequence (KV-cache decode)", _chunked_cases,
          weight=2, serving=_serving_chunked)
def chunked_equals_whole(subject: Subject, case: RopeCase) -> float:
    """rope(x[:, :k]) ++ rope(x[:, k:]) == rope(x): prefill then incremental decode (packed:
    every sequence cut at its own point, each part keeping its sequence's positions).

    For dynamic and longrope the frequencies depend on each call's largest position (HF
    recomputes them per forward), so each chunk is judged against the oracle of its own
    call: the whole and the chunks legitimately differ there."""
    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    parts = _chunks(case, inputs)
    results = [(sub, sub_in, index, keep(sub_in), call(subject, sub, sub_in)) for sub, sub_in, index in parts]
    where = f"positions split at {case.setup.split}"
    if case.config.rope_type in CALL_DEPENDENT:  # each chunk against the oracle (and budget) of its own call
        return max(judge(subject, sub, outs, kept_sub, sub_in.positions,
                         f"a chunk ({where}) disagrees with the oracle for that call ({case.config.rope_type} "
                         "frequencies follow each call's largest position)")
                   for sub, sub_in, _, kept_sub, outs in results)
    return judge(subject, case, _joined(case, kept, results), kept, inputs.positions,
                 f"applying it in chunks ({where}) differs from the whole")
