"""The symbolic objects RoPE is made of, as SymPy matrices.

Rotation matrices (2x2, block-diagonal, multi-axis, M-RoPE), the half-split
permutation, and the elementwise forms implementations compute instead of a
matrix product: ``x⊙cos + quarter_turn(x)⊙sin`` in interleaved layout
(:func:`sparse_form`) and in half-split layout (:func:`half_split_form`).

Vectors are SymPy column matrices; shapes are written ``[rows, cols]``.  No
module-level symbols: :func:`angles`, :func:`positions`, :func:`axis_positions`,
:func:`pair_thetas` and :func:`real_vector` make them where a law needs them (SymPy returns the
same symbol for the same name and assumptions).
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

__all__ = [
    "CONCRETE_DIMS",
    "CONCRETE_DIMS_METHOD",
    "angles",
    "axis_positions",
    "block_rotation",
    "half_split_cos_sin",
    "half_split_form",
    "half_split_permutation",
    "half_split_rotation",
    "interleaved_cos_sin",
    "mrope_rotation",
    "pair_thetas",
    "pairwise_quarter_turn",
    "positions",
    "real_vector",
    "rotate_half",
    "rotation",
    "sparse_form",
    "three_axis_rotation",
    "two_axis_rotation",
]

#: Concrete even dimensions for which block-diagonal statements are checked.
CONCRETE_DIMS: tuple[int, ...] = (2, 4, 6, 8)

#: How the laws checked at :data:`CONCRETE_DIMS` describe their quantifiers.
CONCRETE_DIMS_METHOD = (
    f"d in ({','.join(map(str, CONCRETE_DIMS))}) with symbolic per-pair "
    "theta_0..theta_{d/2-1} and real m, n"
)


# ---------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------


def angles() -> tuple[sp.Symbol, sp.Symbol]:
    """Real symbolic angles ``a, b``."""
    return sp.symbols("a b", real=True)


def positions() -> tuple[sp.Symbol, sp.Symbol]:
    """Real symbolic token positions ``m, n``."""
    return sp.symbols("m n", real=True)


def axis_positions() -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Real symbolic positions on three axes (t, h, w): ``(m_t, m_h, m_w), (n_t, n_h, n_w)``."""
    mt, mh, mw, nt, nh, nw = sp.symbols("m_t m_h m_w n_t n_h n_w", real=True)
    return (mt, mh, mw), (nt, nh, nw)


def pair_thetas(count: int) -> list[sp.Symbol]:
    """Positive symbolic per-pair frequencies ``theta0 .. theta{count-1}``."""
    return list(sp.symbols(f"theta0:{count}", positive=True))


def real_vector(name: str, d: int) -> sp.Matrix:
    """Real symbolic vector ``(name0, ..., name{d-1})`` with shape ``[d, 1]``."""
    return sp.Matrix(sp.symbols(f"{name}0:{d}", real=True))


# ---------------------------------------------------------------------------
# Rotation matrices
# ---------------------------------------------------------------------------


def rotation(theta) -> sp.Matrix:
    """2x2 rotation ``[[cos θ, −sin θ], [sin θ, cos θ]]``, shape ``[2, 2]``."""
    theta = sp.sympify(theta)
    return sp.Matrix([[sp.cos(theta), -sp.sin(theta)], [sp.sin(theta), sp.cos(theta)]])


def block_rotation(m, thetas: Sequence) -> sp.Matrix:
    """Block-diagonal R_m: pair (2i, 2i+1) rotated by the angle m*thetas[i].

    Args:
        m: position (number or SymPy expression).
        thetas: per-pair frequencies, length ``d/2``.
    Returns:
        sp.Matrix: shape ``[d, d]``.
    """
    m = sp.sympify(m)
    return sp.diag(*[rotation(m * sp.sympify(t)) for t in thetas])


def two_axis_rotation(m1, m2, thetas: Sequence) -> sp.Matrix:
    """2-axis RoPE: group j of four dims = pair rotated by m1*θj, pair by m2*θj.

    Returns:
        sp.Matrix: shape ``[4·len(thetas), 4·len(thetas)]``.
    """
    blocks = []
    for t in thetas:
        blocks += [rotation(m1 * t), rotation(m2 * t)]
    return sp.diag(*blocks)


def three_axis_rotation(m1, m2, m3, thetas: Sequence) -> sp.Matrix:
    """3-axis RoPE: group j of six dims = pairs rotated by m1·θj, m2·θj, m3·θj.

    Returns:
        sp.Matrix: shape ``[6·len(thetas), 6·len(thetas)]``.
    """
    blocks = []
    for t in thetas:
        blocks += [rotation(m1 * t), rotation(m2 * t), rotation(m3 * t)]
    return sp.diag(*blocks)


def mrope_rotation(
    positions: Sequence,
    thetas: Sequence,
    sections: Sequence[int],
    position_axis: Callable[[int], int] | None = None,
    restart_per_section: bool = False,
) -> sp.Matrix:
    """M-RoPE: pairs split into consecutive sections; pair j of section k is
    rotated by positions[position_axis(k)]·θ_j (θ indexed over all d/2 pairs,
    as HF's mrope_section split of one cos/sin table).

    ``position_axis`` defaults to the identity; ``lambda k: 0`` is the bug
    "every section uses the temporal position".  ``restart_per_section`` is the
    bug of indexing θ from 0 again inside each section.

    Args:
        positions: one position per axis, e.g. ``(m_t, m_h, m_w)``.
        thetas: per-pair frequencies, length ``d/2 == sum(sections)``.
        sections: number of pairs in each section.
    Returns:
        sp.Matrix: shape ``[d, d]``.
    Raises:
        ValueError: when the sections do not cover the pairs.
    """
    if sum(sections) != len(thetas):
        raise ValueError(f"sections {tuple(sections)} do not cover {len(thetas)} pairs")
    axis = position_axis or (lambda k: k)
    blocks = []
    j = 0
    for k, count in enumerate(sections):
        for c in range(count):
            t = thetas[c] if restart_per_section else thetas[j]
            blocks.append(rotation(sp.sympify(positions[axis(k)]) * t))
            j += 1
    return sp.diag(*blocks)


# ---------------------------------------------------------------------------
# Half-split layout
# ---------------------------------------------------------------------------


def half_split_permutation(d: int) -> sp.Matrix:
    """P with x_half = P x_interleaved and R_half = P R_interleaved P^T.

    Interleaved index 2i -> half-split index i, 2i+1 -> i + d/2 (the
    permutation used when converting Meta llama q/k weights to HF layout).

    Returns:
        sp.Matrix: shape ``[d, d]``.
    Raises:
        ValueError: when ``d`` is not a positive even integer.
    """
    if d <= 0 or d % 2:
        raise ValueError(f"d must be a positive even integer, got {d}")
    h = d // 2
    P = sp.zeros(d, d)
    for i in range(h):
        P[i, 2 * i] = 1
        P[i + h, 2 * i + 1] = 1
    return P


def half_split_rotation(m, thetas: Sequence) -> sp.Matrix:
    """P R_m Pᵀ: the block rotation acting on half-split vectors, shape ``[d, d]``."""
    P = half_split_permutation(2 * len(thetas))
    return P * block_rotation(m, thetas) * P.T


# ---------------------------------------------------------------------------
# Elementwise forms
# ---------------------------------------------------------------------------


def pairwise_quarter_turn(x: sp.Matrix) -> sp.Matrix:
    """Each pair (x_2i, x_2i+1) turned by +90°: (−x1, x0, −x3, x2, ...).

    The interleaved "rotate" of sparse RoPE (R(π/2) on every pair).  Not
    ``ropecheck.oracle.rotate_pairs``, which applies the whole rotation.

    Args:
        x (sp.Matrix): shape ``[d, 1]``, d even.
    Returns:
        sp.Matrix: shape ``[d, 1]``.
    """
    out = []
    for i in range(0, len(x), 2):
        out += [-x[i + 1], x[i]]
    return sp.Matrix(out)


def rotate_half(x: sp.Matrix) -> sp.Matrix:
    """(−x[d/2:], x[:d/2]): the half-split quarter turn ``rotate_half`` of HF RoPE.

    Args:
        x (sp.Matrix): shape ``[d, 1]``, d even.
    Returns:
        sp.Matrix: shape ``[d, 1]``.
    """
    h = len(x) // 2
    return sp.Matrix([-x[h + i] for i in range(h)] + [x[i] for i in range(h)])


def interleaved_cos_sin(p, thetas: Sequence) -> tuple[list, list]:
    """(cos pθ0, cos pθ0, cos pθ1, cos pθ1, ...) and the same with sin, each of length ``d``."""
    cos_v = [sp.cos(p * t) for t in thetas for _ in range(2)]
    sin_v = [sp.sin(p * t) for t in thetas for _ in range(2)]
    return cos_v, sin_v


def half_split_cos_sin(p, thetas: Sequence) -> tuple[list, list]:
    """(cos pθ0, ..., cos pθ_(h−1)) twice and the same with sin, each of length ``d = 2h``."""
    cos_v = [sp.cos(p * t) for t in thetas] * 2
    sin_v = [sp.sin(p * t) for t in thetas] * 2
    return cos_v, sin_v


def _cos_sin_form(x: sp.Matrix, turned: sp.Matrix, cos_v: list, sin_v: list) -> sp.Matrix:
    return sp.Matrix([x[i] * cos_v[i] + turned[i] * sin_v[i] for i in range(len(x))])


def sparse_form(x: sp.Matrix, m, thetas: Sequence, rotate=pairwise_quarter_turn) -> sp.Matrix:
    """x⊙cos + rotate(x)⊙sin with cos = (cos mθ0, cos mθ0, cos mθ1, cos mθ1, ...).

    Args:
        x (sp.Matrix): shape ``[d, 1]``.
        m: position.
        thetas: per-pair frequencies, length ``d/2``.
        rotate: the quarter turn to use (the correct one by default).
    Returns:
        sp.Matrix: shape ``[d, 1]``.
    """
    cos_v, sin_v = interleaved_cos_sin(m, thetas)
    return _cos_sin_form(x, rotate(x), cos_v, sin_v)


def half_split_form(x: sp.Matrix, m, thetas: Sequence, rotate=rotate_half) -> sp.Matrix:
    """x⊙cos + rotate_half(x)⊙sin with cos = (cos mθ0..cos mθ_{h-1}, same again).

    Args:
        x (sp.Matrix): shape ``[d, 1]`` in half-split layout.
        m: position.
        thetas: per-pair frequencies, length ``d/2``.
        rotate: the quarter turn to use (``rotate_half`` by default).
    Returns:
        sp.Matrix: shape ``[d, 1]``.
    """
    cos_v, sin_v = half_split_cos_sin(m, thetas)
    return _cos_sin_form(x, rotate(x), cos_v, sin_v)
