"""Always-valid inference: asymptotic confidence sequences and their p-values.

Method: the two-sided normal-mixture asymptotic confidence sequence of Waudby-Smith,
Arnold, Wu, Wang & Ramdas (2023), "Time-uniform central limit theory and asymptotic
confidence sequences" (arXiv:2103.06476v7, eqs. 9, 155 and 161), following Howard, Ramdas,
McAuliffe & Sekhon (2021), exactly as GrowthBook implements it in gbstats
``SequentialTwoSidedTTest``. The interval may be looked at after every call: the chance
that it *ever* excludes the true lift is at most alpha. The price is a wider interval; it
is tightest around n = N* total units (the tuning parameter, default 5,000).

The estimates (absolute and delta-method relative lift) are those of
:mod:`apps.stats.frequentist`; the per-observation variance handed to the boundary is
``se^2 * (n_control + n_variant)``, as in gbstats.
"""

from __future__ import annotations

import numpy as np

from .frequentist import absolute_lift, comparison_dof, relative_lift
from .moments import to_moments
from .types import NOT_AVAILABLE, ArmStats, Comparison, Estimate, Moments, check_alpha

DEFAULT_TUNING = 5000.0


def sequential_rho(alpha: float, tuning: float = DEFAULT_TUNING) -> float:
    """Mixture parameter rho of the normal-mixture boundary from alpha and N*.

    Formula (Waudby-Smith et al. 2023, eq. 161; gbstats ``sequential_rho``):
        rho = sqrt((-2 ln alpha + ln(-2 ln alpha + 1)) / N*)
    which makes the boundary tightest when the total sample size is near N*.
    """
    check_alpha(alpha)
    if not tuning > 0:
        raise ValueError(f"the tuning parameter N* must be positive, not {tuning!r}")
    log_a = np.log(alpha)
    return float(np.sqrt((-2.0 * log_a + np.log(-2.0 * log_a + 1.0)) / tuning))


def sequential_halfwidth(s2, n, alpha, rho):
    """Half-width of the two-sided asymptotic confidence sequence at total sample size n.

    Formula (Waudby-Smith et al. 2023, eq. 9; gbstats ``sequential_interval_halfwidth``):
        h = sqrt(s2) * sqrt(2 (n rho^2 + 1) ln(sqrt(n rho^2 + 1) / alpha) / (n rho)^2)
    with s2 the per-observation variance (se^2 * n for a two-arm estimate). Assumes
    i.i.d. units with finite variance (asymptotic validity). Works on numpy arrays.
    """
    nr2 = n * rho**2
    return np.sqrt(s2) * np.sqrt(
        2.0 * (nr2 + 1.0) * np.log(np.sqrt(nr2 + 1.0) / alpha) / (n * rho) ** 2
    )


def always_valid_p_value(value, se, n, rho):
    """Always-valid p-value of H0: lift = 0, the inverse of the mixture e-value.

    Formula (Waudby-Smith et al. 2023, eq. 155; gbstats ``SequentialTwoSidedTTest``):
        e = exp(rho^2 * (value^2 n / se^2) / (2 (n rho^2 + 1))) / sqrt(n rho^2 + 1),
        p = min(1, 1 / e)
    computed on the log scale to avoid overflow. At the same alpha (and rho) it is < alpha
    exactly when the confidence sequence excludes 0. Works on numpy arrays.
    """
    nr2p1 = n * rho**2 + 1.0
    z = value / se
    log_e = rho**2 * (z * z * n) / (2.0 * nr2p1) - 0.5 * np.log(nr2p1)
    return np.exp(np.minimum(0.0, -log_e))


def sequential_estimate(value: float, se: float, n: int, rho: float, interval_alpha: float):
    """Confidence-sequence interval and always-valid p-value for one scale.

    Method: :func:`sequential_halfwidth` with s2 = se^2 * n (gbstats convention) and
    :func:`always_valid_p_value`; rho stays fixed while ``interval_alpha`` may be adjusted
    (the boundary is valid at any level for a fixed rho, by Ville's inequality).
    """
    half = float(sequential_halfwidth(se * se * n, n, interval_alpha, rho))
    p_value = float(always_valid_p_value(value, se, n, rho))
    return Estimate(value, se, value - half, value + half, p_value, statistic=value / se)


def sequential(
    control: ArmStats | Moments,
    variant: ArmStats | Moments,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
    interval_alpha: float | None = None,
) -> Comparison:
    """Sequential (always-valid) comparison of a variant with control: the verdict default.

    Method: gbstats ``SequentialTwoSidedTTest`` (see module docstring) on the absolute and
    the delta-method relative lift, n = n_control + n_variant, rho from ``alpha`` and
    ``tuning`` (N*). ``interval_alpha`` (default ``alpha``) sets the interval level, e.g. a
    Holm-consistent level. Assumes independent units; valid under continuous monitoring.
    Thin data (n < 2, zero variance, control mean 0) gives ``ok=False`` placeholders.
    """
    rho = sequential_rho(alpha, tuning)
    level = check_alpha(alpha if interval_alpha is None else interval_alpha)
    c, v = to_moments(control), to_moments(variant)
    n = c.n + v.n
    estimates, notes = [], []
    for value, se, note in (absolute_lift(c, v), relative_lift(c, v)):
        estimates.append(NOT_AVAILABLE if note else sequential_estimate(value, se, n, rho, level))
        notes.append(note)
    dof = comparison_dof(c, v)
    note = notes[1] or notes[0]
    return Comparison("sequential", c, v, estimates[0], estimates[1], dof, alpha, level, note)
