"""``llama3``: wavelengths 2 pi / theta_i above L0 / low_freq_factor are divided by factor,
those below L0 / high_freq_factor kept, and the band between smoothly interpolated."""

import mpmath

from ropecheck.rope_types._record import RopeType, blend_gain, chain, error, slip_factor_multiplies, slip_ignored


def smooth_factor(wavelen, original, low_freq_factor, high_freq_factor):
    """sm = (L0 / lambda - lf) / (hf - lf): 0 at lambda = L0 / lf, 1 at lambda = L0 / hf."""
    return (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)


def smoothed_inv_freq(theta, factor, smooth):
    """(1 - sm) theta / s + sm theta: theta / s at sm = 0, theta at sm = 1."""
    return (1 - smooth) * theta / factor + smooth * theta


def _check(scaling, rotary_dim: int) -> None:
    if scaling["low_freq_factor"] == scaling["high_freq_factor"]:
        raise error("high_freq_factor", "equals low_freq_factor (the smoothing divides by their difference)")


def _frequency(scaling, theta, i, prepared, length_key):
    s, l0 = mpmath.mpf(scaling["factor"]), mpmath.mpf(scaling["original_max_position_embeddings"])
    lf, hf = mpmath.mpf(scaling["low_freq_factor"]), mpmath.mpf(scaling["high_freq_factor"])
    wavelen = 2 * mpmath.pi / theta  # in HF's order of tests (it matters only if hf < lf)
    if wavelen > l0 / lf:
        return theta / s
    if l0 / hf <= wavelen:
        return smoothed_inv_freq(theta, s, smooth_factor(wavelen, l0, lf, hf))
    return theta


def _slack(scaling, base, rotary_dim, theta, scaled):
    """4 ulps for the blend, plus the smoothing weight's float32 error (about
    (4 max(|lf|, |hf|) + |lf|) / |hf - lf| ulps, 2 more) amplified by ``blend_gain``."""
    lf, hf = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    weight_ulps = 2.0 + (4 * max(abs(lf), abs(hf)) + abs(lf)) / abs(hf - lf)
    return 4.0 + blend_gain(scaling, theta, scaled) * weight_ulps


def _slip_bands_swapped(ctx):
    sc = ctx.scaling
    yield ("low_freq_factor and high_freq_factor swapped (the wavelength bands exchanged)",
           lambda: ctx.rope(ctx.scaled(low_freq_factor=sc["high_freq_factor"], high_freq_factor=sc["low_freq_factor"])),
           ctx.loose)


LOW_FREQ_FACTORS = (1.0, 0.5, 2.0)
BAND_RATIOS = (4.0, 2.0, 8.0)  # high_freq_factor / low_freq_factor


def _parameters(ctx, rotary_dim: int) -> dict:
    draw = ctx.draw
    params = {"rope_type": "llama3", "factor": draw(ctx.factors, label="factor"),
              "original_max_position_embeddings": draw(ctx.originals, label="original length")}
    params["low_freq_factor"] = draw(ctx.sampled(LOW_FREQ_FACTORS), label="low_freq_factor")
    params["high_freq_factor"] = params["low_freq_factor"] * draw(ctx.sampled(BAND_RATIOS), label="band ratio")
    return params


RECORD = RopeType(
    name="llama3",
    rank=5,
    summary="low frequencies (wavelength > L0 / low_freq_factor) divided by factor, high ones kept, smoothed between",
    required=("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    check=_check,
    frequency=_frequency,
    slack_ulps=_slack,
    parameters=_parameters,
    slips=chain(slip_ignored, slip_factor_multiplies, _slip_bands_swapped),
    hf=True,
    proofs=("llama3_bands_continuous_and_ends",),
    mutants=("scaling_mutants:llama3_bands_swapped",),
)
