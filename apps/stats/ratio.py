"""Ratio metrics (per-caller analysis) by the delta method.

When the caller is the unit of randomisation but the metric is per call (e.g. the share of
calls that convert), calls of one caller are correlated. Analyse per caller instead: for
caller i let num_i be the sum of the caller's outcomes and den_i the number of the caller's
calls. The metric is R = sum(num) / sum(den) = mean(num) / mean(den), and its variance
follows from the first-order Taylor expansion (delta method) of M / D.

Source: Deng, Knoblich & Lu (2018), "Applying the Delta Method in Metric Analytics", KDD;
GrowthBook gbstats ``variance_of_ratios`` / ``RatioStatistic``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .types import Moments, RatioStats


def delta_method_ratio_variance(
    mean_num: float, var_num: float, mean_den: float, var_den: float, cov: float
) -> float:
    """Per-unit variance of M / D by the delta method (first-order Taylor expansion).

    Formula (Deng et al. 2018, eq. 3; GrowthBook ``variance_of_ratios``):
        Var = var_M / mu_D^2 + var_D * mu_M^2 / mu_D^4 - 2 * cov_MD * mu_M / mu_D^3
    Divide by n to get the variance of the ratio estimate. Assumes mu_D is not 0 and n is
    large enough for the linearisation (and the central limit theorem) to hold.
    """
    d2 = mean_den * mean_den  # products, not **, so that overflow gives inf, never raises
    ratio = mean_num / mean_den
    return var_num / d2 + var_den * ratio * ratio / d2 - 2.0 * cov * ratio / d2


def ratio_moments(stats: RatioStats) -> Moments:
    """Turn ratio sufficient statistics into the (n, mean, per-unit variance) of comparisons.

    Method: mean = sum(num) / sum(den); per-unit variance by the delta method
    (:func:`delta_method_ratio_variance`) from sample variances and the sample covariance
    (all with n - 1). The result plugs into every comparison function exactly like a mean
    metric: the variance of the arm's ratio estimate is ``variance / n``.

    Not enough data (n < 2 or sum(den) == 0) gives mean 0 and variance 0 instead of raising;
    comparisons then report "not enough data". A tiny negative variance from rounding is
    clamped to 0.
    """
    n = stats.n
    if n < 1 or stats.den_sum == 0:
        return Moments(n=max(n, 0), mean=0.0, variance=0.0)
    mean = stats.num_sum / stats.den_sum
    if n < 2:
        return Moments(n=n, mean=mean, variance=0.0)
    mean_num, mean_den = stats.num_sum / n, stats.den_sum / n
    var_num = (stats.num_sum_squares - stats.num_sum * stats.num_sum / n) / (n - 1)
    var_den = (stats.den_sum_squares - stats.den_sum * stats.den_sum / n) / (n - 1)
    cov = (stats.cross_sum - stats.num_sum * stats.den_sum / n) / (n - 1)
    if mean_den * mean_den == 0:
        return Moments(n=n, mean=mean, variance=0.0)
    variance = float(delta_method_ratio_variance(mean_num, var_num, mean_den, var_den, cov))
    return Moments(n=n, mean=mean, variance=variance if variance > 0 else 0.0)


def ratio_stats_from_units(
    numerators: Sequence[float], denominators: Sequence[float]
) -> RatioStats:
    """Aggregate per-unit (per-caller) numerators and denominators into RatioStats.

    Method: plain sums, sums of squares and the sum of cross products num_i * den_i, i.e.
    what a SQL ``GROUP BY variant`` over a per-caller subquery would return. Assumes both
    sequences have one entry per unit, in the same order.
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.shape != den.shape:
        raise ValueError("numerators and denominators must have the same length")
    return RatioStats(
        n=int(num.size),
        num_sum=float(num.sum()),
        num_sum_squares=float((num * num).sum()),
        den_sum=float(den.sum()),
        den_sum_squares=float((den * den).sum()),
        cross_sum=float((num * den).sum()),
    )
