"""HF transformers' own RoPE code bent to docs/contract.md §1::

    rope(x: (batch, seq, heads, head_dim), positions: (batch, seq) int64, config) -> like x

Each adapter runs the library's real code path, not a re-implementation:

- ``llama``: ``LlamaRotaryEmbedding`` (cos/sin from ``position_ids``, formed in float32
  and cast to ``x.dtype``) and ``apply_rotary_pos_emb`` (``rotate_half``, pairs
  ``(i, i + head_dim/2)``). Llama rotates the whole head: no partial rotary.
- ``gpt_neox``: ``GPTNeoXRotaryEmbedding`` with ``partial_rotary_factor`` (``rotary_pct``)
  ``= rotary_dim / head_dim`` and the model's ``apply_rotary_pos_emb``, which rotates the
  first ``cos.shape[-1]`` dims and passes the rest through.
- ``gptj``: sin/cos from ``create_sinusoidal_positions`` (base hard-coded to 10000), taken
  for ``position_ids`` the way the installed release does it (``GPTJRotaryEmbedding`` from
  5.24 on, ``get_embed_positions`` and the gather of ``GPTJAttention.forward`` before), and
  ``apply_rotary_pos_emb`` (``rotate_every_two``, pairs ``(2i, 2i+1)``) on the first
  ``rotary_dim`` dims.

HF attention works on (batch, heads, seq, head_dim) for Llama and GPT-NeoX, so those
adapters transpose in and out; GPT-J rotates in (batch, seq, heads, head_dim) itself.
Each adapter implements one pairing and ignores ``config.pairing`` (its spec says which).
``llama_scaled`` is Llama with ``config.scaling`` passed as HF ``rope_parameters``
(linear, dynamic, yarn, llama3, longrope: HF's own ``ROPE_INIT_FUNCTIONS`` and
``dynamic_rope_update``); the other adapters raise ``NotImplementedError`` for scaling.

``llama_qk`` and ``gpt_neox_qk`` take q and k together (docs/contract.md §4, ``signature = "qk"``,
kv_heads dividing q_heads) and judge only the models' ``apply_rotary_pos_emb(q, k, cos, sin)``:
their cos/sin are ropecheck's exact ``tables.duplicated``, rounded once to q's dtype.

``transformers`` is imported only inside the functions (``_modeling``), so importing this
module imports nothing but torch. Works with transformers 4.x (``rope_theta``,
``rotary_pct`` keywords) and 5.x (``rope_parameters``); which API a release has is found
by looking for it, never from the version string. Each adapter is ``bundled("transformers")``:
a release that lacks what it reaches for raises ``AdapterMismatch``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from types import ModuleType

import torch

from ropecheck import rope_types, tables
from ropecheck.adapters import bundled
from ropecheck.config import RopeConfig

GPTJ_MAX_POSITIONS = 2048
"""``GPTJConfig().max_position_embeddings`` (EleutherAI/gpt-j-6b's): the smallest table built."""


@functools.lru_cache(maxsize=None)
def _modeling(model: str) -> ModuleType:
    """``transformers.models.<model>.modeling_<model>``, imported on first use."""
    return importlib.import_module(f"transformers.models.{model}.modeling_{model}")


def _takes_rope_parameters(config_class: type) -> bool:
    """True for transformers 5 configs (``rope_parameters``), False for 4.x (``rope_theta``)."""
    return "rope_parameters" in inspect.signature(config_class.__init__).parameters


def _unscaled(config: RopeConfig, name: str) -> None:
    if not rope_types.get(config.rope_type).unscaled:
        raise NotImplementedError(f"ropecheck.adapters.hf.{name}: scaled RoPE ({config.rope_type!r}) "
                                  "is not adapted; only rope_type 'default'")


# ---------------------------------------------------------------- Llama


@functools.lru_cache(maxsize=16)
def _llama_rotary(base: float, head_dim: int, device: torch.device) -> torch.nn.Module:
    """A ``LlamaRotaryEmbedding`` for one (base, head_dim) on ``device``.

    With ``rope_type = "default"`` its ``inv_freq`` (head_dim // 2,) is fixed at
    construction and ``forward`` is a pure function of (x.dtype, position_ids), so a
    module can be shared by every call with the same key (dynamic rope types, which
    rewrite ``inv_freq`` in forward, are never built here).
    """
    llama = _modeling("llama")
    sizes = dict(hidden_size=head_dim, num_attention_heads=1, num_key_value_heads=1, head_dim=head_dim)
    if _takes_rope_parameters(llama.LlamaConfig):
        hf_config = llama.LlamaConfig(**sizes, rope_parameters={"rope_type": "default", "rope_theta": base})
    else:
        hf_config = llama.LlamaConfig(**sizes, rope_theta=base)
    return llama.LlamaRotaryEmbedding(config=hf_config).to(device)


@bundled("transformers")
def llama(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF Llama: ``apply_rotary_pos_emb(q, k, *LlamaRotaryEmbedding(x, position_ids))``.

    Args:
        x: (batch, seq, heads, head_dim); transposed to HF's (batch, heads, seq, head_dim).
        positions: (batch, seq) int64, passed as ``position_ids``.
        config: ``base`` becomes ``rope_theta``; ``rotary_dim`` must equal head_dim.
    Returns:
        (batch, seq, heads, head_dim) in x's dtype, on x's device.
    """
    _unscaled(config, "llama")
    return _llama_with(x, positions, config, _modeling("llama").apply_rotary_pos_emb)


def _llama_with(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig, apply) -> torch.Tensor:
    """Llama's cos/sin, then ``apply(q, k, cos, sin)`` on (batch, heads, seq, head_dim)."""
    if config.rotary_dim != x.shape[-1]:
        raise ValueError(f"HF Llama rotates the whole head: rotary_dim {config.rotary_dim} "
                         f"must equal head_dim {x.shape[-1]}")
    rotary = _llama_rotary(float(config.base), x.shape[-1], x.device)
    cos, sin = rotary(x, position_ids=positions)  # (batch, seq, head_dim) each, x.dtype
    q = x.transpose(1, 2)
    q_embed, _ = apply(q, q, cos, sin)
    return q_embed.transpose(1, 2)


@functools.lru_cache(maxsize=None)
def _compiled_apply():
    """``torch.compile(apply_rotary_pos_emb, dynamic=True)``: one graph for every shape."""
    return torch.compile(_modeling("llama").apply_rotary_pos_emb, dynamic=True)


@bundled("transformers")
def llama_compiled(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF Llama with ``apply_rotary_pos_emb`` under ``torch.compile`` (Inductor fuses the
    rotation into one kernel; cos/sin from the eager ``LlamaRotaryEmbedding``). Shapes as ``llama``."""
    _unscaled(config, "llama_compiled")
    return _llama_with(x, positions, config, _compiled_apply())


HF_SCALED_TYPES = tuple(name for name, record in rope_types.TYPES.items()
                        if record.kind == "scaling" and record.hf and not record.unscaled)
"""The scaled rope_types HF transformers implements (their records say ``hf=True``)."""


def hf_rope_parameters(config: RopeConfig) -> tuple[dict, int]:
    """``config.scaling`` as HF ``rope_parameters`` and the model's ``max_position_embeddings``.

    HF's dynamic NTK reads its reference length from ``max_position_embeddings`` (ropecheck
    names it ``original_max_position_embeddings``); for the other types the model length
    is ``factor * original`` (so HF's consistency checks agree with ``factor``), and equals
    the original for LongRoPE without ``factor`` (HF then derives factor 1 from their ratio).
    """
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.scaling.items()}
    params["rope_theta"] = float(config.base)
    if "original_max_position_embeddings" not in params:  # linear: no reference length
        return params, 2048
    original = int(params["original_max_position_embeddings"])
    if rope_types.get(config.rope_type).hf_original_is_model_length:
        del params["original_max_position_embeddings"]
        return params, original
    factor = params.get("factor")
    return params, original if factor is None else max(original, int(factor * original))


def _llama_scaled_rotary(config: RopeConfig, head_dim: int, device: torch.device) -> torch.nn.Module:
    llama = _modeling("llama")
    params, max_positions = hf_rope_parameters(config)
    hf_config = llama.LlamaConfig(hidden_size=head_dim, num_attention_heads=1, num_key_value_heads=1,
                                  head_dim=head_dim, max_position_embeddings=max_positions, rope_parameters=params)
    return llama.LlamaRotaryEmbedding(config=hf_config).to(device)


@bundled("transformers")
def llama_scaled(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF Llama with scaled RoPE: a fresh ``LlamaRotaryEmbedding`` per call, built from
    ``config.scaling`` as ``rope_parameters`` (see ``hf_rope_parameters``), then
    ``apply_rotary_pos_emb``. A fresh module per call because dynamic and LongRoPE
    rewrite ``inv_freq`` inside ``forward`` (HF's cache only grows: a shared module keeps
    the frequencies of the longest call seen). Shapes as ``llama``; transformers >= 5.
    """
    record = rope_types.TYPES.get(config.rope_type)
    if record is None or not record.hf:
        raise NotImplementedError(f"HF has no rope_type {config.rope_type!r}")
    if config.axes > 1:
        raise NotImplementedError("HF Llama has one position axis")
    if record.unscaled:
        return llama(x, positions, config)
    if config.rotary_dim != x.shape[-1]:
        raise ValueError(f"HF Llama rotates the whole head: rotary_dim {config.rotary_dim} "
                         f"must equal head_dim {x.shape[-1]}")
    rotary = _llama_scaled_rotary(config, x.shape[-1], x.device)
    cos, sin = rotary(x, position_ids=positions)
    q = x.transpose(1, 2)
    q_embed, _ = _modeling("llama").apply_rotary_pos_emb(q, q, cos, sin)
    return q_embed.transpose(1, 2)


# ---------------------------------------------------------------- GPT-NeoX


@functools.lru_cache(maxsize=16)
def _neox_rotary(base: float, head_dim: int, rotary_dim: int, device: torch.device) -> torch.nn.Module:
    """A ``GPTNeoXRotaryEmbedding`` with ``rotary_pct = rotary_dim / head_dim``.

    The library turns the fraction back into dims with ``int(head_dim * rotary_pct)``
    (truncation), exactly as a model config would; the adapter does not correct it.
    Shared between calls for the reason given in ``_llama_rotary``.
    """
    neox = _modeling("gpt_neox")
    fraction = rotary_dim / head_dim
    sizes = dict(hidden_size=head_dim, num_attention_heads=1)
    if _takes_rope_parameters(neox.GPTNeoXConfig):
        rope = {"rope_type": "default", "rope_theta": base, "partial_rotary_factor": fraction}
        hf_config = neox.GPTNeoXConfig(**sizes, rope_parameters=rope)
    else:
        hf_config = neox.GPTNeoXConfig(**sizes, rotary_pct=fraction, rotary_emb_base=base)
    return neox.GPTNeoXRotaryEmbedding(config=hf_config).to(device)


@functools.lru_cache(maxsize=None)
def _neox_apply_splits() -> bool:
    """Whether GPT-NeoX's ``apply_rotary_pos_emb`` splits off the pass-through dims itself
    (rotating the first ``cos.shape[-1]``, as in 4.57 and 5.x) or expects
    ``GPTNeoXAttention`` to, as older releases did."""
    apply = _modeling("gpt_neox").apply_rotary_pos_emb
    q, cos = torch.zeros(1, 1, 1, 4), torch.ones(1, 1, 2)
    try:
        return apply(q, q, cos, cos)[0].shape[-1] == 4
    except RuntimeError:
        return False


@bundled("transformers")
def gpt_neox(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF GPT-NeoX: ``GPTNeoXRotaryEmbedding`` + ``apply_rotary_pos_emb`` with partial rotary.

    Args:
        x: (batch, seq, heads, head_dim); transposed to HF's (batch, heads, seq, head_dim).
        positions: (batch, seq) int64, passed as ``position_ids``.
        config: ``base`` becomes ``rope_theta``; ``rotary_dim / head_dim`` the rotary fraction.
    Returns:
        (batch, seq, heads, head_dim) in x's dtype, on x's device.
    """
    _unscaled(config, "gpt_neox")
    neox, head_dim = _modeling("gpt_neox"), x.shape[-1]
    rotary = _neox_rotary(float(config.base), head_dim, config.rotary_dim, x.device)
    cos, sin = rotary(x, position_ids=positions)  # (batch, seq, rotated dims), x.dtype
    q = x.transpose(1, 2)
    if _neox_apply_splits():
        q_embed, _ = neox.apply_rotary_pos_emb(q, q, cos, sin)
    else:  # older releases: GPTNeoXAttention split at rotary_ndims = int(head_size * rotary_pct)
        ndims = int(head_dim * (config.rotary_dim / head_dim))
        rot, rest = q[..., :ndims], q[..., ndims:]
        q_embed = torch.cat((neox.apply_rotary_pos_emb(rot, rot, cos, sin)[0], rest), dim=-1)
    return q_embed.transpose(1, 2)


# ---------------------------------------------------------------- GPT-J


def gptj_table_length(largest: int) -> int:
    """Rows of the sin/cos table when the largest position is ``largest``: a power of two
    above it, at least GPT-J's 2048 (a user raising ``max_position_embeddings``)."""
    return max(GPTJ_MAX_POSITIONS, 1 << max(0, largest).bit_length())


@functools.lru_cache(maxsize=4)
def _gptj_table(rotary_dim: int, num_pos: int, device: torch.device) -> torch.Tensor:
    """``create_sinusoidal_positions(num_pos, rotary_dim)``: (num_pos, rotary_dim) float32,
    sin in the first half of the last dim and cos in the second; read, never written."""
    return _modeling("gptj").create_sinusoidal_positions(num_pos, rotary_dim).to(device)


@functools.lru_cache(maxsize=4)
def _gptj_rotary(rotary_class: type, rotary_dim: int, num_pos: int, device: torch.device) -> torch.nn.Module:
    """A ``GPTJRotaryEmbedding`` (transformers >= 5.24) as ``GPTJModel`` builds it, with
    ``max_position_embeddings = num_pos`` and ``rotary_dim``: its buffer ``embed_positions``
    is ``create_sinusoidal_positions(num_pos, rotary_dim)`` (num_pos, rotary_dim) float32 and
    ``forward`` only reads it, so a module is shared by every call with the same key."""
    hf_config = _modeling("gptj").GPTJConfig(n_positions=num_pos, n_embd=rotary_dim, n_head=1, rotary_dim=rotary_dim)
    return rotary_class(hf_config).to(device)


def _gptj_sin_cos(x: torch.Tensor, positions: torch.Tensor, rotary_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GPT-J's sin and cos for ``position_ids = positions`` (batch, seq), each
    (batch, seq, rotary_dim / 2) in x's dtype, by whichever path the installed release has.

    - up to 5.23: ``get_embed_positions(table, position_ids)`` repeats the table per row,
      (batch, num_pos, rotary_dim), and ``GPTJAttention.forward`` gathers the rows of
      ``position_ids`` (this gather is the forward's own code, which has no function of its own);
    - from 5.24: ``GPTJRotaryEmbedding(config)(x, position_ids)`` indexes its table and
      returns ``(sin, cos)`` itself.
    """
    gptj_module = _modeling("gptj")
    num_pos = gptj_table_length(int(positions.max()))
    if hasattr(gptj_module, "get_embed_positions"):
        table = _gptj_table(rotary_dim, num_pos, x.device)
        embed_positions = gptj_module.get_embed_positions(table, positions)  # (batch, num_pos, rotary_dim)
        repeated_position_ids = positions.unsqueeze(-1).repeat(1, 1, embed_positions.shape[-1])
        sincos = torch.gather(embed_positions, 1, repeated_position_ids).to(x.dtype)
        sin, cos = torch.split(sincos, sincos.shape[-1] // 2, dim=-1)
        return sin, cos
    rotary = _gptj_rotary(gptj_module.GPTJRotaryEmbedding, rotary_dim, num_pos, x.device)
    return rotary(x, position_ids=positions)


@bundled("transformers")
def gptj(x: torch.Tensor, positions: torch.Tensor, config: RopeConfig) -> torch.Tensor:
    """HF GPT-J: the rotary part of ``GPTJAttention.forward`` with ``config.rotary_dim`` set.

    Args:
        x: (batch, seq, heads, head_dim), GPT-J's own layout for q/k at this point.
        positions: (batch, seq) int64, the ``position_ids`` whose rows are taken from the table.
        config: ``rotary_dim`` leading dims are rotated; ``base`` is ignored (GPT-J hard-codes 10000).
    Returns:
        (batch, seq, heads, head_dim) in x's dtype, on x's device.
    """
    _unscaled(config, "gptj")
    sin, cos = _gptj_sin_cos(x, positions, config.rotary_dim)  # (batch, seq, rotary_dim / 2) each
    rot, rest = x[..., : config.rotary_dim], x[..., config.rotary_dim :]
    return torch.cat([_modeling("gptj").apply_rotary_pos_emb(rot, sin, cos), rest], dim=-1)


# ---------------------------------------------------------------- q and k together (docs/contract.md §4)


def _apply_qk(apply, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor,
              config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``apply(q, k, cos, sin)`` on HF's (batch, heads, seq, head_dim) views of q and k, with
    ropecheck's exact ``cat(c, c)`` table (batch, seq, rotary_dim) rounded once to q's dtype."""
    cos, sin = tables.duplicated(positions, config, q.dtype, q.device)
    q_embed, k_embed = apply(q.transpose(1, 2), k.transpose(1, 2), cos, sin)
    return q_embed.transpose(1, 2), k_embed.transpose(1, 2)


@bundled("transformers")
def llama_qk(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor,
             config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """HF Llama's ``apply_rotary_pos_emb(q, k, cos, sin)`` on q and k with GQA (``signature = "qk"``).

    Judges the rotation code alone: cos/sin are ropecheck's exact ``tables.duplicated``
    rounded once to q's dtype, not ``LlamaRotaryEmbedding``'s (the ``hf-llama`` spec judges
    that path). kv_heads may be fewer than q_heads: the table broadcasts over heads.

    Args:
        q: (batch, seq, q_heads, head_dim); k: (batch, seq, kv_heads, head_dim); transposed
            to HF's (batch, heads, seq, head_dim).
        positions: (batch, seq) int64.
        config: ``rotary_dim`` must equal head_dim (Llama's apply rotates the whole head).
    Returns:
        ``(q_out, k_out)`` in q's and k's shapes and dtype.
    """
    if config.rotary_dim != q.shape[-1]:
        raise ValueError(f"HF Llama rotates the whole head: rotary_dim {config.rotary_dim} "
                         f"must equal head_dim {q.shape[-1]}")
    return _apply_qk(_modeling("llama").apply_rotary_pos_emb, q, k, positions, config)


@bundled("transformers")
def gpt_neox_qk(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor,
                config: RopeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """HF GPT-NeoX's ``apply_rotary_pos_emb(q, k, cos, sin)`` (``signature = "qk"``, partial rotary).

    The apply function rotates the first ``cos.shape[-1]`` dims of q and k and passes the
    rest through itself (transformers 4.57 and 5.x); the table is ropecheck's exact
    ``tables.duplicated`` of width ``config.rotary_dim``, rounded once to q's dtype, not
    ``GPTNeoXRotaryEmbedding``'s (whose truncated rotary fraction the ``hf-gpt-neox`` spec judges).
    Shapes as ``llama_qk``; any even ``rotary_dim <= head_dim``.
    """
    return _apply_qk(_modeling("gpt_neox").apply_rotary_pos_emb, q, k, positions, config)
