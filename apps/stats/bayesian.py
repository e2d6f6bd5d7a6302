"""Bayesian chance to beat control from a Gaussian on the relative lift.

Method: the relative lift is approximately Normal(mean = observed lift, sd = delta-method
standard error), as in GrowthBook's ``EffectBayesianABTest`` (chance to win =
``norm.sf(0, mean, sd)``, its complement when lower is better). With the default improper
flat prior the posterior equals that likelihood, so P(lift > 0) = Phi(mean / se). An
optional proper Normal(prior_mean, prior_sd) prior on the lift gives the conjugate
posterior (precision-weighted average). Assumes the normal approximation holds (enough
calls per arm) and independent arms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from .frequentist import relative_lift
from .moments import to_moments
from .types import ArmStats, Direction, Moments, check_alpha, good_sign


@dataclass(frozen=True)
class BayesResult:
    """Posterior of the relative lift and the chance the variant beats control."""

    chance_to_win: float
    lift_mean: float
    lift_sd: float
    ci_low: float
    ci_high: float
    ok: bool = True
    note: str = ""


def chance_to_beat(mean: float, se: float, direction: Direction = "higher") -> float:
    """P(lift > 0) = Phi(mean / se) for "higher is better", P(lift < 0) for "lower".

    Method: Gaussian posterior on the lift under a flat prior. se = 0 or a non-finite input
    gives 0.5 (no information) instead of dividing by zero.
    """
    sign = good_sign(direction)
    if not (se > 0 and math.isfinite(se) and math.isfinite(mean)):
        return 0.5
    return float(sps.norm.cdf(sign * mean / se))


def posterior(
    mean: float, se: float, prior_mean: float = 0.0, prior_sd: float | None = None
) -> tuple[float, float]:
    """Normal posterior (mean, sd) of the lift: flat prior by default, else conjugate.

    Formula (Gelman et al., Bayesian Data Analysis, sec. 2.5): precision-weighted average,
    post_var = 1 / (1/se^2 + 1/prior_sd^2), post_mean = post_var (mean/se^2 +
    prior_mean/prior_sd^2). prior_sd = None is the improper flat prior (posterior = data).
    """
    if prior_sd is None:
        return mean, se
    if not prior_sd > 0:
        raise ValueError("prior_sd must be positive (or None for a flat prior)")
    data_precision, prior_precision = 1.0 / (se * se), 1.0 / (prior_sd * prior_sd)
    precision = data_precision + prior_precision
    post_mean = (mean * data_precision + prior_mean * prior_precision) / precision
    return post_mean, math.sqrt(1.0 / precision)


def bayesian(
    control: ArmStats | Moments,
    variant: ArmStats | Moments,
    direction: Direction = "higher",
    alpha: float = 0.05,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
) -> BayesResult:
    """Chance to win and credible interval for the relative lift (variant vs control).

    Method: delta-method lift and se (:func:`apps.stats.frequentist.relative_lift`), then
    :func:`posterior` and :func:`chance_to_beat`; the (1 - alpha) credible interval is the
    central posterior interval. The good sign also accounts for a negative control mean
    (see :func:`apps.stats.types.good_sign`). Thin data: chance 0.5, ok False, no raise.
    """
    check_alpha(alpha)
    c, v = to_moments(control), to_moments(variant)
    mean, se, note = relative_lift(c, v)
    if note:
        return BayesResult(0.5, 0.0, 0.0, 0.0, 0.0, ok=False, note=note)
    post_mean, post_sd = posterior(mean, se, prior_mean, prior_sd)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    orient = "higher" if good_sign(direction, c.mean) > 0 else "lower"
    chance = chance_to_beat(post_mean, post_sd, orient)
    return BayesResult(chance, post_mean, post_sd, post_mean - z * post_sd, post_mean + z * post_sd)
