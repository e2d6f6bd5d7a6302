"""CUPED for per-caller ratio metrics: regression adjustment on the caller's own history.

Method (CUPED: Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online Controlled
Experiments by Utilizing Pre-Experiment Data", WSDM; as regression adjustment with several
covariates, Lin 2013, Annals of Applied Statistics 7; for ratios, the delta method's
linearisation as in GrowthBook gbstats ``RegressionAdjustedRatioStatistic``; the has-history
indicator as Eppo's CUPED++, so callers without history still sharpen the estimate):

A caller i has post-exposure sums num_i, den_i (the metric is R = sum num / sum den) and a
covariate vector x_i = (their mean value over their calls in the 30 days before exposure, 0
when none; 1 if they had such calls else 0). The ratio's influence per unit is
L_i = (num_i - R den_i) / mean(den), whose variance is the delta-method variance of R
(apps.stats.ratio). One theta for all arms and phases is the least-squares slope of L on x,
pooled within (arm, phase) groups:

    theta = (sum_g S_xx,g)^+ (sum_g S_xL,g),  S the within-group centred cross products

and each arm's mean in phase k is moved by theta'(xbar_arm,k - xbar_k), xbar_k the phase's mean
over all arms, with per-unit variance Var(L) - 2 theta'Cov(x, L) + theta'Cov(x) theta.
Within a phase the arms' difference loses exactly the part of it that their histories predict.

Assumptions: x is fixed before exposure, so it does not depend on the variant and the
adjusted difference stays unbiased whatever theta is (theta is estimated from the same data,
with a bias of order 1/n); n large enough for the delta method. A covariate with no spread (no
one has history, or everyone does) is dropped (pseudo-inverse): nobody with history gives the
unadjusted moments exactly. Non-finite statistics give the unadjusted moments too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .ratio import ratio_moments
from .types import Moments, RatioStats

COVARIATES = 2  # the pre-period mean value, the has-history indicator
FLAT = 1e-9  # a covariate whose centred spread is below FLAT x its raw second moment has none


@dataclass(frozen=True)
class CovariateStats:
    """One arm's units in one phase: the metric's ratio statistics plus, for the covariate
    vector x, sum x, sum x x' (row-major), sum x num and sum x den; `with_history`: units
    with calls in the pre-period."""

    ratio: RatioStats
    with_history: int
    x_sum: tuple[float, ...]
    xx_sum: tuple[float, ...]
    x_num_sum: tuple[float, ...]
    x_den_sum: tuple[float, ...]


@dataclass(frozen=True)
class CupedResult:
    """Adjusted Moments per arm and phase (and over all phases), theta, and the share of the
    per-unit variance the adjustment removed (pooled over arms and phases)."""

    phases: dict[str, dict[int, Moments]]
    arms: dict[str, Moments]
    theta: tuple[float, ...]
    variance_removed: float
    units: int
    with_history: int


def unit_covariates(pre_num: Sequence[float], pre_den: Sequence[float]) -> np.ndarray:
    """Covariates per unit from its pre-period sums: (pre_num / pre_den or 0, has history)."""
    num, den = np.asarray(pre_num, float), np.asarray(pre_den, float)
    has = den > 0
    value = np.divide(num, den, out=np.zeros_like(num), where=has)
    return np.column_stack([value, has.astype(float)])


def covariate_stats_from_units(num, den, pre_num, pre_den) -> CovariateStats:
    """What the SQL of apps/results/cuped.py returns for one group, from per-unit arrays."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    x = unit_covariates(pre_num, pre_den)
    return CovariateStats(
        RatioStats(
            int(num.size),
            float(num.sum()),
            float(num @ num),
            float(den.sum()),
            float(den @ den),
            float(num @ den),
        ),
        int(x[:, 1].sum()),
        tuple(map(float, x.sum(axis=0))),
        tuple(map(float, (x.T @ x).ravel())),
        tuple(map(float, x.T @ num)),
        tuple(map(float, x.T @ den)),
    )


def add(parts: Sequence[CovariateStats]) -> CovariateStats:
    """The statistics of the union of disjoint groups of units: their sums."""
    r = [p.ratio for p in parts]
    fields = ("n", "num_sum", "num_sum_squares", "den_sum", "den_sum_squares", "cross_sum")
    ratio = RatioStats(*(sum(getattr(s, f) for s in r) for f in fields))

    def total(name: str, size: int) -> tuple[float, ...]:
        return tuple(sum(getattr(p, name)[j] for p in parts) for j in range(size))

    k = COVARIATES
    return CovariateStats(
        ratio,
        sum(p.with_history for p in parts),
        total("x_sum", k),
        total("xx_sum", k * k),
        total("x_num_sum", k),
        total("x_den_sum", k),
    )


@dataclass(frozen=True)
class _Centred:
    n: int
    xbar: np.ndarray
    s_xx: np.ndarray  # centred sums of cross products (n - 1 times the covariance)
    s_xl: np.ndarray
    moments: Moments  # unadjusted: mean R, per-unit variance Var(L)


def _centred(s: CovariateStats) -> _Centred | None:
    """Within-group centred cross products; None when the group has too few units."""
    r, n, k = s.ratio, s.ratio.n, COVARIATES
    if n < 2 or r.den_sum == 0:
        return None
    x = np.array(s.x_sum)
    s_xx = np.array(s.xx_sum).reshape(k, k) - np.outer(x, x) / n
    s_xnum = np.array(s.x_num_sum) - x * r.num_sum / n
    s_xden = np.array(s.x_den_sum) - x * r.den_sum / n
    ratio, mean_den = r.num_sum / r.den_sum, r.den_sum / n
    return _Centred(n, x / n, s_xx, (s_xnum - ratio * s_xden) / mean_den, ratio_moments(r))


def pooled_theta(groups: Sequence[CovariateStats]) -> np.ndarray:
    """One slope for every group: least squares of L on x within groups, pooled.

    Method: theta = (sum S_xx)^+ (sum S_xL) over the covariates that have spread (module
    docstring); the others get 0. Zero for non-finite statistics."""
    centred = [c for c in map(_centred, groups) if c is not None]
    theta = np.zeros(COVARIATES)
    if not centred:
        return theta
    s_xx = sum(c.s_xx for c in centred)
    s_xl = sum(c.s_xl for c in centred)
    raw = np.diag(np.array(add(groups).xx_sum).reshape(COVARIATES, COVARIATES))
    spread = np.flatnonzero(np.diag(s_xx) > FLAT * raw)
    if not spread.size or not (np.isfinite(s_xx).all() and np.isfinite(s_xl).all()):
        return theta
    inner = np.linalg.pinv(s_xx[np.ix_(spread, spread)]) @ s_xl[spread]
    theta[spread] = inner if np.isfinite(inner).all() else 0.0
    return theta


def adjusted(s: CovariateStats, theta: np.ndarray, centre: np.ndarray) -> Moments:
    """One group's adjusted Moments: mean R - theta'(xbar - centre), per-unit variance
    Var(L) - 2 theta'Cov(x, L) + theta'Cov(x) theta (clamped at 0)."""
    c = _centred(s) if theta.any() else None
    if c is None:  # too few units, or no adjustment (0 x an infinite sum would be NaN)
        return ratio_moments(s.ratio)
    m = c.moments
    mean = m.mean - float(theta @ (c.xbar - centre))
    variance = m.variance + float(theta @ c.s_xx @ theta - 2 * theta @ c.s_xl) / (c.n - 1)
    return Moments(m.n, mean, max(variance, 0.0))


def _centre(groups: Sequence[CovariateStats]) -> np.ndarray:
    total = add(groups)
    return np.array(total.x_sum) / max(total.ratio.n, 1)


def _finite(s: CovariateStats) -> bool:
    r = s.ratio
    numbers = (r.num_sum, r.num_sum_squares, r.den_sum, r.den_sum_squares, r.cross_sum)
    rest = (*s.x_sum, *s.xx_sum, *s.x_num_sum, *s.x_den_sum)
    return bool(np.isfinite(np.array([*numbers, *rest], dtype=float)).all())


def cuped(phases: Mapping[int, Mapping[str, CovariateStats]]) -> CupedResult:
    """Adjust every arm in every phase with one pooled theta (module docstring).

    `phases`: phase index -> arm key -> that arm's statistics in the phase."""
    groups = [s for arms in phases.values() for s in arms.values()]
    finite = all(map(_finite, groups))
    theta = pooled_theta(groups) if finite else np.zeros(COVARIATES)
    by_arm: dict[str, dict[int, Moments]] = {}
    for k, arms in phases.items():
        centre = _centre(list(arms.values()))
        for key, s in arms.items():
            by_arm.setdefault(key, {})[k] = adjusted(s, theta, centre)
    overall = _centre(groups) if groups else np.zeros(COVARIATES)
    arm_stats = {key: add([arms[key] for arms in phases.values() if key in arms]) for key in by_arm}
    return CupedResult(
        by_arm,
        {key: adjusted(s, theta, overall) for key, s in arm_stats.items()},
        tuple(map(float, theta)),
        _removed(groups, theta),
        sum(s.ratio.n for s in groups),
        sum(s.with_history for s in groups),
    )


def _removed(groups: Sequence[CovariateStats], theta: np.ndarray) -> float:
    """1 - (pooled adjusted variance) / (pooled unadjusted variance): the share of the noise
    the history explained (0 when there is nothing to explain)."""
    before = after = 0.0
    for s in groups:
        c = _centred(s)
        if c is None:
            continue
        before += c.moments.variance * (c.n - 1)
        after += adjusted(s, theta, c.xbar).variance * (c.n - 1)
    if not before > 0 or not np.isfinite(before) or not np.isfinite(after):
        return 0.0
    return float(min(max(1.0 - after / before, 0.0), 1.0))
