"""Planning: how many calls per variant, and how many days are left.

These are fixed-horizon sample sizes (normal approximation). The sequential verdict can
stop earlier when the true effect is large, but usually needs somewhat more calls than
this to reach the same power; treat the numbers as the planning target the product shows.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import stats as sps

from .types import check_alpha

Rounding = Literal["nearest", "up"]


def _z_values(alpha: float, power: float) -> tuple[float, float]:
    check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be strictly between 0 and 1, not {power!r}")
    return float(sps.norm.ppf(1.0 - alpha / 2.0)), float(sps.norm.ppf(power))


def _round(value: float, rounding: Rounding) -> int | None:
    if not math.isfinite(value):
        return None  # an effect so small that no finite number of calls would do
    if rounding == "up":
        return math.ceil(value)
    if rounding == "nearest":
        return math.floor(value + 0.5)
    raise ValueError(f"rounding must be 'nearest' or 'up', not {rounding!r}")


def calls_per_variant_for_proportion(
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    rounding: Rounding = "nearest",
) -> int | None:
    """Calls per variant to detect an absolute change ``mde`` of a conversion rate.

    Method: Evan Miller's calculator (evanmiller.org/ab-testing/sample-size.html,
    ``num_subjects``): two-sided test, equal arms, rates as fractions (0.20 = 20%):
        n = (z_{1-a/2} sqrt(2 p (1-p)) + z_{power} sqrt(p (1-p) + q (1-q)))^2 / mde^2
    with q = p + mde, and p folded to 1 - p above 0.5 as he does. Evan Miller shows the
    result rounded to the nearest call (20%, +5 points -> 1030.2 -> 1,030); pass
    ``rounding="up"`` for the conservative ceiling (1,031). Returns None when no plan
    exists (mde = 0, baseline outside (0, 1), or p + mde outside [0, 1]).
    """
    z_a, z_b = _z_values(alpha, power)
    p = 1.0 - baseline if baseline > 0.5 else baseline
    q = p + mde
    if not (0.0 < p < 1.0) or mde == 0 or not (0.0 <= q <= 1.0):
        return None
    sd1 = math.sqrt(2.0 * p * (1.0 - p))
    sd2 = math.sqrt(p * (1.0 - p) + q * (1.0 - q))
    root = (z_a * sd1 + z_b * sd2) / abs(mde)
    return _round(root * root, rounding)


def calls_per_variant_for_mean(
    baseline_mean: float,
    std_dev: float,
    relative_mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    rounding: Rounding = "up",
) -> int | None:
    """Calls per variant to detect a relative change of a mean (duration, sentiment).

    Formula (two-sample z approximation, e.g. Chow, Shao & Wang, Sample Size Calculations
    in Clinical Research, sec. 3.2): delta = |baseline_mean * relative_mde|,
        n = 2 (z_{1-a/2} + z_{power})^2 sd^2 / delta^2,
    rounded up by default. Assumes equal arms and the same standard deviation in both.
    Returns None when delta = 0 or sd <= 0 (no meaningful plan).
    """
    z_a, z_b = _z_values(alpha, power)
    delta = abs(baseline_mean * relative_mde)
    if delta == 0 or not std_dev > 0:
        return None
    root = (z_a + z_b) * std_dev / delta
    return _round(2.0 * root * root, rounding)


def days_left(calls_per_day: float, calls_so_far: int, needed_total: int) -> int | None:
    """Whole days until ``needed_total`` calls at the observed volume, rounded up.

    Method: remaining = max(0, needed_total - calls_so_far); days = ceil(remaining /
    calls_per_day). Assumes the daily volume stays as observed. Returns 0 when the target is
    already reached and None (never infinity, never a ZeroDivisionError) when no calls are
    coming in (calls_per_day <= 0) or the inputs are not finite.
    """
    remaining = max(0, needed_total - calls_so_far)
    if remaining == 0:
        return 0
    if not (calls_per_day > 0 and math.isfinite(calls_per_day) and math.isfinite(remaining)):
        return None
    return math.ceil(remaining / calls_per_day)
