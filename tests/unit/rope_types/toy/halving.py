"""A toy rope_type, ``toy_halving``, written as a new type would be: this one file and
nothing else (the tests register it with ``ropecheck.rope_types.discover``).

theta'_i = theta_i / shrink for odd pairs i, theta_i for even ones. Its law (``LAW``) is
proved by ``ropecheck prove`` from the same formula (``scaled``) the oracle evaluates."""

import mpmath

from ropecheck.rope_types._record import Law, RopeType, chain, error, slip_ignored


def scaled(theta, i, shrink):
    """theta'_i: the one formula, for mpmath numbers (the oracle) and SymPy symbols (the law)."""
    return theta / shrink if i % 2 else theta


def _check(scaling, rotary_dim):
    shrink = scaling["shrink"]
    if isinstance(shrink, bool) or not isinstance(shrink, (int, float)) or not shrink > 0:
        raise error("shrink", f"expected a positive number, got {shrink!r}")


def _frequency(scaling, theta, i, prepared, length_key):
    return scaled(theta, i, mpmath.mpf(scaling["shrink"]))


def _odd_pairs_interpolated(kit):
    """R'(m) = diag(R(m theta_0), R(m/shrink theta_1), R(m theta_2), ...), and
    R'(m)^T R'(n) = R'(n - m): only the odd pairs' positions are interpolated."""
    shrink = kit.sp.Symbol("shrink", positive=True)
    m, n = kit.positions()

    def at(d):
        thetas = kit.pair_thetas(d // 2)
        toy = [scaled(theta, i, shrink) for i, theta in enumerate(thetas)]
        per_pair = kit.sp.diag(*[kit.rotation((m / shrink if i % 2 else m) * t) for i, t in enumerate(thetas)])
        rotate = lambda p: kit.block_rotation(p, toy)  # noqa: E731
        return kit.equal(rotate(m), per_pair) and kit.equal(rotate(m).T * rotate(n), rotate(n - m))

    return kit.all_hold(at(d) for d in kit.CONCRETE_DIMS)


LAW = Law(
    name="toy_halving_interpolates_odd_pairs",
    statement="R'(m) rotates odd pairs by m/shrink theta_i, even pairs by m theta_i; R'(m)^T R'(n) = R'(n - m)",
    method="entrywise normal form modulo cos^2 + sin^2 = 1; d in (2,4,6,8), symbolic theta_i, real m, n, positive shrink",
    check=_odd_pairs_interpolated,
)


def _parameters(ctx, rotary_dim):
    return {"rope_type": "toy_halving", "shrink": ctx.draw(ctx.sampled((2.0, 4.0, 8.0)), label="shrink")}


def _slip_every_pair(ctx):
    shrink = float(ctx.scaling["shrink"])
    yield (f"toy_halving: every pair divided by shrink {shrink:g} (not only the odd ones)",
           lambda: ctx.with_inv_freq(ctx.unscaled_inv_freq() / shrink), ctx.loose)


RECORD = RopeType(
    name="toy_halving",
    rank=50,
    summary="theta_i / shrink for odd i, theta_i for even i",
    required=("shrink",),
    check=_check,
    frequency=_frequency,
    slack_ulps=2.0,
    parameters=_parameters,
    slips=chain(slip_ignored, _slip_every_pair),
    laws=(LAW,),
    mutants=(),
)
