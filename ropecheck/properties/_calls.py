"""Calling the implementation and judging what it returns: what several checks share.

``call`` runs the implementation in the spec's form and fails on anything that is not
the outputs it owes; ``judge`` compares outputs with the oracle under the tolerance model;
``same_bits`` is the bitwise comparison of the "nothing changed" checks.
"""

from __future__ import annotations

import traceback
from dataclasses import replace

import torch

from ropecheck import diagnose, tolerance
from ropecheck.adapters import AdapterMismatch
from ropecheck.config import RopeConfig
from ropecheck.properties._base import NotJudged, PropertyFailed, Subject
from ropecheck.spec import exception_text
from ropecheck.strategies import Inputs, RopeCase, batched


def call(subject: Subject, case: RopeCase, inputs: Inputs, config: RopeConfig | None = None) -> tuple[torch.Tensor, ...]:
    """Run the implementation in the spec's form (docs/contract.md §1 and §4); returns its outputs,
    ``(y,)`` or ``(q_out, k_out)``, each of its operand's shape
    (``(batch, seq, heads, head_dim)``, or ``(total_tokens, heads, head_dim)`` packed).

    Any exception (``SystemExit`` included), a result of the wrong kind or shape, or one
    whose values cannot be read fails.
    """
    config = case.config if config is None else config
    extra = {"cu_seqlens": inputs.cu_seqlens} if case.packed else {}
    try:
        result = subject.fn(*inputs.operands, inputs.positions, config, **extra)
    except AdapterMismatch as exc:
        raise NotJudged(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the implementation's exception is the finding
        raise PropertyFailed(f"raised {type(exc).__name__}: {exc}{_where(exc)}", case) from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit / KeyboardInterrupt from a call is a finding too
        raise PropertyFailed(f"raised {exception_text(exc)}{_where(exc)}", case) from None
    if case.qk:
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise PropertyFailed(f"returned {type(result).__name__}, not the pair (q_out, k_out)", case)
        outs = tuple(result)
    else:
        outs = (result,)
    for name, y, x in zip(case.operand_names, outs, inputs.operands):
        _check_output(case, f"{name}_out " if case.qk else "", y, x)
    return outs


def _check_output(case: RopeCase, label: str, y, x: torch.Tensor) -> None:
    """One returned output ``y`` for input ``x``: a readable tensor of x's shape."""
    if not isinstance(y, torch.Tensor):
        raise PropertyFailed(f"returned {label}{type(y).__name__}, not a torch.Tensor", case)
    if tuple(y.shape) != tuple(x.shape):
        raise PropertyFailed(f"returned {label}shape {tuple(y.shape)} for input shape {tuple(x.shape)}", case)
    if y.is_meta:
        raise PropertyFailed(f"returned {label}a meta tensor (a shape without values)", case)
    try:
        y.detach().to("cpu")
    except Exception as exc:  # noqa: BLE001 - a tensor that fails when read is the implementation's fault
        raise PropertyFailed(f"returned {label}a tensor whose values cannot be read: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}", case) from None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def keep(inputs: Inputs) -> tuple[torch.Tensor, ...]:
    """Copies of the operands as they were before the call (what the outputs are judged on)."""
    return tuple(x.detach().clone() for x in inputs.operands)


def judge(subject: Subject, case: RopeCase, outs, xs, positions: torch.Tensor, cause: str,
          config: RopeConfig | None = None) -> float:
    """Compare every output with the oracle on its own input; on failure name the output,
    the cause and the likely explanation. outs, xs: one tensor per operand, each
    ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens, heads, head_dim)``);
    positions: the case's. Returns the worst err/allowed."""
    config = case.config if config is None else config
    worst = 0.0
    for index, (y, x) in enumerate(zip(outs, xs)):
        yb, xb, pb = batched(y, case.packed), batched(x, case.packed), batched(positions, case.packed)
        result = tolerance.compare(yb, xb, pb, config)
        if not result.ok:
            name = case.operand_names[index]
            y_cpu, x_cpu, pos_cpu = yb.detach().cpu(), xb.detach().cpu(), pb.detach().cpu()
            partner = batched(xs[1 - index], case.packed).detach().cpu() if case.qk else None
            raise PropertyFailed(cause + (f" ({name}_out)" if case.qk else ""), case, result.describe(),
                                 result.worst_ratio,
                                 explain=lambda: diagnose.explain(y_cpu, x_cpu, pos_cpu, config, lengths=case.lengths,
                                                                  partner=partner, operand=name))
        worst = max(worst, result.worst_ratio)
    return worst


def agrees_with_oracle(subject: Subject, case: RopeCase, cause: str) -> float:
    """Call on the case's inputs and judge against the oracle, failing with ``cause``
    (with a hint when k's head count was taken from q's)."""
    inputs = case.inputs(subject.device)
    kept = keep(inputs)
    outs = call(subject, case, inputs)
    try:
        return judge(subject, case, outs, kept, inputs.positions, cause)
    except PropertyFailed as failure:
        _hint_kv_heads(subject, case, failure)
        raise


def _hint_kv_heads(subject: Subject, case: RopeCase, failure: PropertyFailed) -> None:
    """A wrong k_out under GQA/MQA that is right with as many k heads as q heads: k's head
    count (or its head stride) was taken from q. Added to the failure's cause."""
    if not case.qk or case.kv_heads == case.heads or not failure.cause.endswith("(k_out)"):
        return
    mha = replace(case, kv_heads=case.heads)
    try:
        inputs = mha.inputs(subject.device)
        kept = keep(inputs)
        judge(subject, mha, call(subject, mha, inputs), kept, inputs.positions, "")
    except (PropertyFailed, NotJudged):
        return
    failure.cause += (f": k_out is wrong with {case.kv_heads} k heads for {case.heads} q heads but right with "
                      f"{case.heads}: k's head count or head stride is taken from q")
    failure.explain = None


def right_elsewhere(subject: Subject, case: RopeCase, fused: bool | None = None) -> bool:
    """Whether the same case, called the plain way (fresh contiguous operands; separate q
    and k when ``fused`` is False), agrees with the oracle: tells a layout's fault from a
    wrong result anyway."""
    inputs = case.inputs(subject.device, fused=fused)
    try:
        judge(subject, case, call(subject, case, inputs), keep(inputs), inputs.positions, "")
    except PropertyFailed:
        return False
    return True


def judge_or_blame(subject: Subject, case: RopeCase, outs, xs, positions: torch.Tensor, *, blame: str,
                   not_it: str, fused: bool | None = None) -> float:
    """``judge`` for a property that calls in an unusual way (strided views, a fused buffer):
    when the outputs are wrong, the cause is ``blame`` if the same case called the plain way
    (``right_elsewhere``) is right, and ``not_it`` otherwise. Returns the worst err/allowed."""
    try:
        return judge(subject, case, outs, xs, positions, "")
    except PropertyFailed:
        pass
    cause = blame if right_elsewhere(subject, case, fused=fused) else not_it
    return judge(subject, case, outs, xs, positions, cause)


_BITS = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.int8}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality, NaNs included (``torch.equal`` says NaN != NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    bits = _BITS[a.element_size()]
    return torch.equal(a.contiguous().view(bits), b.contiguous().view(bits))

