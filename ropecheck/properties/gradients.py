"""gradients: the gradient w.r.t. x is the inverse rotation of the upstream gradient."""

from __future__ import annotations

import torch

from ropecheck import oracle, tolerance
from ropecheck.properties._base import PropertyFailed, Subject, register
from ropecheck.properties._calls import call, judge, keep, same_bits
from ropecheck.properties._cases import cases
from ropecheck.spec import Spec
from ropecheck.strategies import RopeCase, batched, standard_normal

GRAD_DTYPES = ("float64", "float32")


def _needs_grad(spec: Spec) -> str | None:
    if not spec.differentiable:
        return "the spec says differentiable = false"
    if not any(d in GRAD_DTYPES for d in spec.dtypes):
        return "gradients are checked in float32/float64 and the spec claims neither"
    return None


def _grad_cases(spec: Spec):
    return cases(spec, dtypes=tuple(d for d in spec.dtypes if d in GRAD_DTYPES))


@register("the gradient w.r.t. x is the inverse rotation of the upstream gradient", _grad_cases, _needs_grad)
def gradients(subject: Subject, case: RopeCase) -> float:
    """d<y, g>/dx must be the inverse rotation of g (the VJP of a rotation), for x, or for q
    and k; g drawn like x, ``(batch, seq, heads, head_dim)`` (packed: ``(total_tokens, ...)``).
    The forward result with x requiring grad must be right too."""
    inputs = case.inputs(subject.device, fused=False)
    kept = keep(inputs)
    leaves = tuple(x.clone().requires_grad_(True) for x in inputs.operands)
    given = tuple(leaf.clone() if subject.spec.inplace else leaf for leaf in leaves)
    outs = call(subject, case, inputs.replace(operands=given))
    judge(subject, case, outs, kept, inputs.positions, "with x requiring grad (the training path), the forward result is wrong")
    if not all(y.requires_grad for y in outs if y.numel()):
        raise PropertyFailed("output does not require grad: the implementation detaches x from the graph", case)
    drawn = standard_normal(case.seed + 1, tuple(tuple(x.shape) for x in inputs.operands))
    upstream = tuple(t.to(x.dtype, copy=True).to(subject.device) for t, x in zip(drawn, inputs.operands))
    live = [i for i, y in enumerate(outs) if y.numel()]
    if not live:  # an empty packed batch: nothing to differentiate
        return 0.0
    grads = _backward(case, outs, leaves, upstream, live)
    pos = batched(inputs.positions, case.packed)
    return max([0.0] + [_judge_gradient(case, name, grad, g, pos)
                        for name, grad, g in zip(case.operand_names, grads, upstream)])


class _Upstream(torch.autograd.Function):
    """y unchanged forward; backward hands on the given upstream gradient ``g`` itself (not a
    copy), so that the implementation's backward receives exactly the tensor the caller gave
    and a backward that writes into it is seen. The same as ``torch.autograd.grad(y, x, g)``
    (which checks g's shape through torch.fx's symbolic shapes, importing SymPy into the
    checking process: 0.3 s CPU) on the scalar ``_Upstream.apply(y, g).sum()``."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        ctx.g = g
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return ctx.g, None


def _backward(case: RopeCase, outs, leaves, upstream, live: list[int]) -> list[torch.Tensor | None]:
    """The gradients of the ``live`` outputs w.r.t. their leaves, given ``upstream``
    (copies: the upstream gradients must come back unchanged). None where unused."""
    given_upstream = tuple(g.clone() for g in upstream)
    try:
        grads = [None] * len(outs)
        loss = sum(_Upstream.apply(outs[i], given_upstream[i]).sum() for i in live)
        found = torch.autograd.grad(loss, [leaves[i] for i in live], allow_unused=True)
        for i, grad in zip(live, found):
            grads[i] = grad
    except Exception as exc:  # noqa: BLE001
        raise PropertyFailed(f"backward raised {type(exc).__name__}: {exc}", case) from None
    for name, g, after in zip(case.operand_names, upstream, given_upstream):
        if not same_bits(g, after):
            raise PropertyFailed(f"backward writes into the upstream gradient dL/d{name}_out it is given "
                                 f"({int((g != after).sum())} elements changed): a graph that uses that gradient "
                                 "elsewhere (a residual connection) gets a wrong one", case)
    return grads


def _judge_gradient(case: RopeCase, name: str, grad: torch.Tensor | None, g: torch.Tensor,
                    pos: torch.Tensor) -> float:
    """grad against the inverse rotation of the upstream ``g`` (both of x's shape; pos
    batched): err/allowed, or a failure that says whether grad is the forward rotation."""
    label = f" w.r.t. {name}" if case.qk else " w.r.t. x"
    if grad is None and g.numel() == 0:
        return 0.0
    if grad is None:
        raise PropertyFailed(f"no gradient{label}: the output does not depend on it through autograd", case)
    gb, grad_b = batched(g, case.packed), batched(grad, case.packed)
    expected = oracle.rope_inverse(gb, pos, case.config)
    result = tolerance.compare(grad_b, gb, pos, case.config, expected=expected)
    if not result.ok:
        forward = oracle.rope(gb, pos, case.config)
        hint = ("the gradient is the forward rotation of the upstream gradient, not its inverse"
                if tolerance.compare(grad_b, gb, pos, case.config, expected=forward).ok else
                "the gradient is not the inverse rotation of the upstream gradient")
        raise PropertyFailed(f"wrong gradient{label}: {hint}", case, result.describe(), result.worst_ratio)
    return result.worst_ratio
