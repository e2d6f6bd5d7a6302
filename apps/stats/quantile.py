"""Quantile metrics (the 95th percentile of response times): the sample quantile and its
standard error when a caller's several calls are not independent.

Estimate: the sample quantile with linear interpolation between order statistics, the
position p (n - 1) in the sorted values (Hyndman & Fan 1996, definition 7): PostgreSQL's
``percentile_cont`` and numpy's default ``numpy.quantile``.

Standard error, calls independent (Woodruff 1952, "Confidence intervals for medians and
other position measures", JASA 47): the distribution-free interval for the p-quantile runs
between the sample quantiles at the levels p -/+ h, h = z sqrt(p (1 - p) / n), z = 1.96, so

    Var_iid(q) = ((q(p + h) - q(p - h)) / (2 z))^2,

which is p (1 - p) / (n f(q)^2) with the density f read off the order statistics.

Clustered (caller mode: a caller's calls share a voice, a line, a patience). By the Bahadur
representation q - Q_p ~ (p - F(Q_p)) / f, so Var(q) = Var(F(q)) / f^2: only the variance of
the share of calls at or below q changes. That share is a ratio over units, (calls <= q of
unit i summed) / (calls of unit i summed), whose variance the delta method gives
(apps.stats.ratio, Deng, Knoblich & Lu 2018). With independent calls it is p (1 - p) / n, so

    Var(q) = Var_iid(q) * Var_delta(F(q)) / (p (1 - p) / n).

Source: GrowthBook gbstats ``QuantileStatistic`` and ``QuantileClusteredStatistic``
(models/statistics.py), which read q(p -/+ h) from a grid of sample sizes n*; here h is
computed from the exact n. The result is handed to every comparison as :class:`Moments`
(n = units, mean = q, variance = Var(q) * units), so the difference of two arms' quantiles,
its always-valid range, guardrails and verdicts need no special case.

Assumptions: a continuous distribution near the quantile (ties make f undefined; all-equal
values give variance 0, "no spread"), units independent of each other, and enough values on
the far side of the quantile: with n <= z^2 p / (1 - p) (72 calls or fewer for p = 0.95), p + h
passes 1 and the variance is reported as 0, i.e. "not enough data" (gbstats does the same).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .ratio import ratio_moments, ratio_stats_from_units
from .types import Moments, RatioStats

Z = NormalDist().inv_cdf(0.975)
NO_UNITS = RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class QuantileStats:
    """One arm's sufficient statistics for the `level`-quantile of a metric.

    ``n`` values; ``quantile`` the sample quantile; ``lower`` and ``upper`` the sample
    quantiles at :func:`woodruff_levels`; ``below`` per unit: values <= quantile (num) and
    values (den), its ``n`` the units with at least one value.
    """

    level: float
    n: int
    quantile: float
    lower: float
    upper: float
    below: RatioStats


def woodruff_levels(level: float, n: int) -> tuple[float, float]:
    """The levels p -/+ z sqrt(p (1 - p) / n) (Woodruff 1952), kept within 0..1.

    Assumes 0 < p < 1; n < 1 is read as 1. The SQL of apps.results.quantiles computes the
    same expression."""
    h = Z * math.sqrt(level * (1.0 - level) / max(n, 1))
    return max(0.0, level - h), min(1.0, level + h)


def resolvable(level: float, n: int) -> bool:
    """True when both Woodruff levels lie inside 0..1, i.e. n > z^2 p / (1 - p) and
    n > z^2 (1 - p) / p (gbstats ``QuantileStatistic._has_zero_variance``)."""
    z2 = Z * Z
    return n > z2 * level / (1.0 - level) and n > z2 * (1.0 - level) / level


def fewest_values(level: float) -> int:
    """The fewest values with which the `level`-quantile's variance can be estimated: the
    smallest n that is :func:`resolvable` (73 for p = 0.95, 4 for the median).

    Method: n > z^2 max(p / (1 - p), (1 - p) / p), so floor of that bound plus one."""
    bound = Z * Z * max(level / (1.0 - level), (1.0 - level) / level)
    return math.floor(bound) + 1


def quantile_stats(units: Iterable[Sequence[float]], level: float) -> QuantileStats:
    """QuantileStats from each unit's values (one list per caller; per call: one value each).

    Method: :func:`quantile_stats_of_calls` on the values labelled by their unit.
    """
    units = [np.asarray(u, dtype=float).ravel() for u in units]
    values = np.concatenate(units) if units else np.zeros(0)
    return quantile_stats_of_calls(
        np.repeat(np.arange(len(units)), [u.size for u in units]), values, level
    )


def quantile_stats_of_calls(unit: np.ndarray, values: np.ndarray, level: float) -> QuantileStats:
    """QuantileStats from calls: each call's unit (integers from 0) and value.

    Method: numpy's linear quantile at p and at the Woodruff levels; per unit the count of
    values <= q and of values. NaN and +/-Infinity are ignored as unreported, and so are
    units left without a value. This is what apps.results.quantiles computes in PostgreSQL;
    here it serves SQLite (the embedded default) and simulations.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"a quantile's level must lie strictly between 0 and 1, not {level!r}")
    unit, values = np.asarray(unit, dtype=int), np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    values, unit = values[finite], unit[finite]
    if not values.size:
        return QuantileStats(level, 0, 0.0, 0.0, 0.0, NO_UNITS)
    low, high = woodruff_levels(level, values.size)
    lower, q, upper = (float(x) for x in np.quantile(values, [low, level, high]))
    den = np.bincount(unit).astype(float)
    num = np.bincount(unit, values <= q, minlength=den.size)
    kept = den > 0
    below = ratio_stats_from_units(num[kept], den[kept])
    return QuantileStats(level, int(values.size), q, lower, upper, below)


def quantile_variance(stats: QuantileStats) -> float:
    """Var(q) of the arm's sample quantile, clustered by unit (module docstring).

    Method: Woodruff's order-statistic variance times the design effect of the share of
    values <= q (delta-method variance over units / binomial variance). 0 when it cannot be
    estimated: fewer than 2 units, too few values for the level (:func:`resolvable`), no
    spread between the Woodruff quantiles, or a share of 0 or 1 (all values tied)."""
    p, n = stats.level, stats.n
    if stats.below.n < 2 or not resolvable(p, n):
        return 0.0
    spread = (stats.upper - stats.lower) / (2.0 * Z)
    share = ratio_moments(stats.below)
    v_share = share.variance / share.n
    v_iid = spread * spread
    variance = v_iid * v_share / (p * (1.0 - p) / n)
    return variance if math.isfinite(variance) and variance > 0 else 0.0


def quantile_moments(stats: QuantileStats) -> Moments:
    """The arm's quantile as the :class:`Moments` every comparison consumes.

    Method: n = units with a value, mean = the sample quantile, variance = Var(q) * n (so
    that variance / n is the quantile's variance, as for a mean). Assumes the normal
    approximation of the sample quantile (Bahadur 1966), as comparisons of means do.
    """
    units = stats.below.n
    if stats.n < 1 or units < 1:
        return Moments(0, 0.0, 0.0)
    return Moments(units, stats.quantile, quantile_variance(stats) * units)
