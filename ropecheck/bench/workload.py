"""One thing to time: an implementation (or ``copy``, the roofline) on one shape, dtype,
device and pass, with its inputs allocated once."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import torch

from ropecheck import registry
from ropecheck.bench import sweep
from ropecheck.config import RopeConfig
from ropecheck.spec import Spec
from ropecheck.tolerance import DTYPES

COPY = "copy"


@dataclass(frozen=True)
class Workload:
    implementation: str
    spec: Spec | None  # None for the copy
    shape: sweep.Shape
    dtype: str
    device: str
    backward: bool = False

    @property
    def pass_name(self) -> str:
        return "fwd+bwd" if self.backward else "fwd"

    @property
    def id(self) -> str:
        s = self.shape
        return (f"{self.implementation}|{s.kind}|b{s.batch}s{s.seq}h{s.heads}kv{s.kv_heads}d{s.head_dim}|"
                f"{self.dtype}|{self.pass_name}")

    def info(self) -> dict:
        s = self.shape
        return dict(implementation=self.implementation, device=self.device, dtype=self.dtype, kind=s.kind,
                    batch=s.batch, seq=s.seq, heads=s.heads, kv_heads=s.kv_heads, head_dim=s.head_dim,
                    tokens=s.tokens, pass_=self.pass_name, bytes=self.shape.bytes_moved(self.dtype, self.backward))

    def prepare(self) -> Callable[[], object]:
        """Allocate inputs on the device and return the call to time."""
        s, dtype = self.shape, DTYPES[self.dtype]
        gen = torch.Generator(device=self.device).manual_seed(0)  # drawn on the device: fast for 32K tokens
        q = torch.randn(s.batch, s.seq, s.heads, s.head_dim, generator=gen, device=self.device).to(dtype)
        k = torch.randn(s.batch, s.seq, s.kv_heads, s.head_dim, generator=gen, device=self.device).to(dtype)
        if self.spec is None:
            return _copy(q, k, self.backward)
        offset = 4096 if s.kind == "decode" else 0
        positions = (torch.arange(s.seq) + offset).expand(s.batch, s.seq).contiguous().to(self.device)
        base = 10000.0 if self.spec.base == "any" else float(self.spec.base)
        config = RopeConfig(base=base, rotary_dim=s.head_dim, pairing=self.spec.pairing, head_dim=s.head_dim)
        rotate = _in_form(self.spec, self.spec.load_callable(), s.batch, s.seq, self.device)
        if self.spec.packed:
            q, k = q.reshape(-1, s.heads, s.head_dim), k.reshape(-1, s.kv_heads, s.head_dim)
            positions = positions.reshape(-1)
        if not self.backward:
            return lambda: rotate(q, k, positions, config)
        q.requires_grad_(True)
        k.requires_grad_(True)
        gq, gk = torch.randn_like(q), torch.randn_like(k)

        def forward_backward():
            outs = rotate(q, k, positions, config)
            return torch.autograd.grad(outs, (q, k), (gq, gk))

        return forward_backward


def _in_form(spec: Spec, fn: Callable, batch: int, seq: int, device: str) -> Callable:
    """``rotate(q, k, positions, config) -> (q_out, k_out)`` in the spec's form: one call for
    q and k (``signature = "qk"``) or one each; packed specs get every row as a sequence."""
    extra = {}
    if spec.packed:
        extra["cu_seqlens"] = torch.arange(0, batch * seq + 1, seq, dtype=torch.int32, device=device)
    if spec.signature == "qk":
        def rotate(q, k, positions, config):
            return tuple(fn(q, k, positions, config, **extra))
    else:
        def rotate(q, k, positions, config):
            return fn(q, positions, config, **extra), fn(k, positions, config, **extra)
    return rotate


def _copy(q: torch.Tensor, k: torch.Tensor, backward: bool) -> Callable[[], object]:
    """Copies of q and k (twice for fwd+bwd): the same bytes read and written."""
    dq, dk = torch.empty_like(q), torch.empty_like(k)
    times = 2 if backward else 1

    def copy():
        for _ in range(times):
            dq.copy_(q)
            dk.copy_(k)

    return copy


def load_workloads(job: dict, device: str) -> list[Workload]:
    """Workloads for ``job`` (targets, quick, passes, dtypes, shapes) on ``device``,
    with the copy roofline for every (shape, dtype, pass) that some implementation uses."""
    shapes = sweep.sweep(job.get("quick", False), device)
    dtypes = tuple(job.get("dtypes") or sweep.dtypes(job.get("quick", False)))
    passes = job.get("passes", ["fwd", "fwd+bwd"])
    out: list[Workload] = []
    if not job.get("implementations", True) and not job.get("copy", True):
        return out
    for target in job["targets"]:
        for spec, _ in registry.resolve(target):
            if spec.missing_requirements() or device not in spec.devices:
                print(f"bench: skipping {spec.name}: not runnable on {device} here", file=sys.stderr)
                continue
            for shape in shapes:
                for dtype in dtypes:
                    if dtype not in spec.dtypes:
                        continue
                    out.append(Workload(spec.name, spec, shape, dtype, device, False))
                    if ("fwd+bwd" in passes and dtype in sweep.backward_dtypes(device)
                            and spec.differentiable and not spec.inplace):
                        out.append(Workload(spec.name, spec, shape, dtype, device, True))
    needed = {(w.shape, w.dtype, w.backward) for w in out}
    copies = [Workload(COPY, None, s, d, device, b) for (s, d, b) in sorted(needed, key=lambda t: (t[0].tokens, str(t)))]
    return (copies if job.get("copy", True) else []) + (out if job.get("implementations", True) else [])


def pairs(job: dict, device: str) -> list[tuple[Workload, Workload]]:
    """(copy, implementation) for every implementation workload of ``job``: the copy of the
    same bytes that ``ropecheck bench`` times interleaved with it."""
    works = load_workloads({**job, "copy": False, "implementations": True}, device)
    return [(Workload(COPY, None, w.shape, w.dtype, w.device, w.backward), w) for w in works]
