"""Fixed-horizon comparison of a variant with control (Welch t) and the pooled z-test.

Reference: GrowthBook gbstats ``TwoSidedTTest`` (frequentist/tests.py): relative lift
(variant - control) / control, its variance by the delta method, Welch-Satterthwaite
degrees of freedom, Student t for the p-value and the interval. A fixed-horizon p-value is
only valid when it is read once, at the planned sample size; for repeated looks use
:mod:`apps.stats.sequential`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from .moments import to_moments
from .types import NOT_AVAILABLE, ArmStats, Comparison, Estimate, Moments, check_alpha

NOTE_FEW = "Not enough data yet: each version needs at least 2 calls."
NOTE_NO_SPREAD = "Not enough data yet: the results don't vary yet, so the noise can't be measured."
NOTE_ZERO_CONTROL = "The current prompt averages 0, so a relative change can't be computed."


def relative_lift_variance(mean_c, var_c, n_c, mean_v, var_v, n_v):
    """Variance of the relative lift (m_v - m_c) / m_c by the delta method.

    Formula (GrowthBook ``TTest.variance``; Deng et al. 2018 with independent arms):
        Var = var_v / (m_c^2 n_v) + var_c m_v^2 / (m_c^4 n_c)
    Assumes independent arms, m_c != 0 and large enough n for the linearisation. Pure
    arithmetic, so it also works element-wise on numpy arrays.
    """
    m2 = mean_c * mean_c  # products, not **, so that overflow gives inf instead of raising
    ratio = mean_v / mean_c
    return var_v / m2 / n_v + var_c / m2 * ratio * ratio / n_c


def welch_satterthwaite_dof(var_c, n_c, var_v, n_v):
    """Welch-Satterthwaite degrees of freedom for two arms with unequal variances.

    Formula (Welch 1947; GrowthBook ``TTest.dof``):
        df = (v_v/n_v + v_c/n_c)^2 / (v_v^2/(n_v^2 (n_v-1)) + v_c^2/(n_c^2 (n_c-1)))
    Assumes n >= 2 per arm and at least one positive variance. Works on numpy arrays.
    """
    a, b = var_v / n_v, var_c / n_c
    return (a + b) * (a + b) / (a * a / (n_v - 1) + b * b / (n_c - 1))


def absolute_lift(control: Moments, variant: Moments) -> tuple[float, float, str]:
    """Absolute lift m_v - m_c and its standard error sqrt(v_c/n_c + v_v/n_v).

    Method: difference of independent means (normal approximation). Returns
    (value, se, note); note is "" when usable, else a plain reason (n < 2, zero variance)
    and value = se = 0.
    """
    if min(control.n, variant.n) < 2:
        return 0.0, 0.0, NOTE_FEW
    var = variant.variance / variant.n + control.variance / control.n
    value = variant.mean - control.mean
    if not (var > 0 and math.isfinite(var) and math.isfinite(value)):
        return 0.0, 0.0, NOTE_NO_SPREAD
    return value, math.sqrt(var), ""


def relative_lift(control: Moments, variant: Moments) -> tuple[float, float, str]:
    """Relative lift (m_v - m_c) / m_c and its delta-method standard error.

    Method: :func:`relative_lift_variance` (GrowthBook ``TTest``). Returns (value, se, note);
    when the control mean is 0, n < 2 or the variance is 0, value = se = 0 and note explains.
    """
    if min(control.n, variant.n) < 2:
        return 0.0, 0.0, NOTE_FEW
    if control.mean * control.mean == 0:  # 0, or so close to 0 that its square underflows
        return 0.0, 0.0, NOTE_ZERO_CONTROL
    var = relative_lift_variance(
        control.mean, control.variance, control.n, variant.mean, variant.variance, variant.n
    )
    value = (variant.mean - control.mean) / control.mean
    if math.isinf(var) or math.isinf(value):
        return 0.0, 0.0, NOTE_ZERO_CONTROL
    if not var > 0:
        return 0.0, 0.0, NOTE_NO_SPREAD
    return value, math.sqrt(var), ""


def comparison_dof(control: Moments, variant: Moments) -> float:
    """Welch-Satterthwaite df for the pair, or 0.0 when it is undefined (n < 2, no variance).

    Method: :func:`welch_satterthwaite_dof`, shared by the absolute and relative scales as
    in GrowthBook. The df is scale-free, so both variances are divided by the larger one
    first (no underflow or overflow for extreme metric scales).
    """
    scale = max(control.variance, variant.variance)
    if min(control.n, variant.n) < 2 or not (scale > 0 and math.isfinite(scale)):
        return 0.0
    var_c, var_v = control.variance / scale, variant.variance / scale
    dof = float(welch_satterthwaite_dof(var_c, control.n, var_v, variant.n))
    return dof if math.isfinite(dof) else 0.0


def welch_estimate(value: float, se: float, dof: float, interval_alpha: float) -> Estimate:
    """Two-sided Welch t-test and t interval for one scale.

    Formulas (GrowthBook ``TwoSidedTTest``): t = value / se, p = 2 P(T_df > |t|),
    interval = value -/+ t_{1 - alpha/2, df} * se. Assumes approximately normal estimates.
    An undefined df (0) falls back to the normal distribution (df = infinity).
    """
    dof = dof if dof > 0 and math.isfinite(dof) else math.inf
    t_stat = value / se
    p_value = float(2.0 * sps.t.sf(abs(t_stat), dof))
    half = float(sps.t.ppf(1.0 - interval_alpha / 2.0, dof)) * se
    return Estimate(value, se, value - half, value + half, p_value, statistic=t_stat)


def fixed_horizon(
    control: ArmStats | Moments,
    variant: ArmStats | Moments,
    alpha: float = 0.05,
    interval_alpha: float | None = None,
) -> Comparison:
    """Fixed-horizon comparison: Welch t-test on the absolute and the relative lift.

    Method: GrowthBook ``TwoSidedTTest`` (delta-method relative variance, Welch-Satterthwaite
    df, Student t). Reproduces gbstats' test values and R's ``t.test`` (Welch) on the
    absolute scale. ``interval_alpha`` (default ``alpha``) sets the interval level, e.g. a
    Holm-consistent level from :mod:`apps.stats.correction`. Assumes independent units and
    a single look at the data. Never raises on thin data: see ``Estimate.ok`` and ``note``.
    """
    check_alpha(alpha)
    level = check_alpha(alpha if interval_alpha is None else interval_alpha)
    c, v = to_moments(control), to_moments(variant)
    dof = comparison_dof(c, v)
    estimates, notes = [], []
    for value, se, note in (absolute_lift(c, v), relative_lift(c, v)):
        estimates.append(NOT_AVAILABLE if note else welch_estimate(value, se, dof, level))
        notes.append(note)
    note = notes[1] or notes[0]
    return Comparison("fixed", c, v, estimates[0], estimates[1], dof, alpha, level, note)


@dataclass(frozen=True)
class ZTest:
    """Result of the pooled two-proportion z-test (arm 1 minus arm 2)."""

    z: float
    p_value: float
    pooled_rate: float
    se: float
    ok: bool = True


def two_proportion_z_test(successes_1: float, n_1: int, successes_2: float, n_2: int) -> ZTest:
    """Pooled two-proportion z-test for a difference in conversion rates.

    Formula (e.g. Agresti, Categorical Data Analysis; R ``prop.test`` without continuity
    correction): p = (x1 + x2) / (n1 + n2), se = sqrt(p (1 - p) (1/n1 + 1/n2)),
    z = (x1/n1 - x2/n2) / se, two-sided p = 2 (1 - Phi(|z|)). Sign: arm 1 minus arm 2.
    Assumes independent Bernoulli outcomes and large counts. Empty arms or a pooled rate of
    0 or 1 give z = 0, p = 1, ok = False.
    """
    if n_1 < 1 or n_2 < 1:
        return ZTest(0.0, 1.0, 0.0, 0.0, ok=False)
    pooled = (successes_1 + successes_2) / (n_1 + n_2)
    se = math.sqrt(max(0.0, pooled * (1.0 - pooled)) * (1.0 / n_1 + 1.0 / n_2))
    if not se > 0:
        return ZTest(0.0, 1.0, pooled, 0.0, ok=False)
    z = (successes_1 / n_1 - successes_2 / n_2) / se
    return ZTest(z, float(2.0 * sps.norm.sf(abs(z))), pooled, se)
