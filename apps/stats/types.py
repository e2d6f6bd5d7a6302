"""Frozen dataclasses: per-arm sufficient statistics in, comparison results out.

Every input is a *sufficient statistic*: counts and sums that the database can aggregate
in one query (n, sum, sum of squares; for ratios also the denominator's sums and the sum
of cross products). Nothing here needs the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower"]
Method = Literal["fixed", "sequential"]
Scale = Literal["relative", "absolute"]

DIRECTIONS: tuple[str, ...] = ("higher", "lower")

# Verdict codes (see apps.stats.verdict).
WINNING = "winning"
LOSING = "losing"
NO_DIFFERENCE_YET = "no_difference_yet"
INCONCLUSIVE = "inconclusive"
SRM = "srm"
GUARDRAIL = "guardrail"
GUARDRAIL_PENDING = "guardrail_pending"  # better on the goal, a guardrail not yet shown safe
CHANGED = "changed"  # the running always-valid range became empty: the effect moved
CODES = (
    WINNING,
    LOSING,
    NO_DIFFERENCE_YET,
    INCONCLUSIVE,
    SRM,
    GUARDRAIL,
    GUARDRAIL_PENDING,
    CHANGED,
)


@dataclass(frozen=True)
class MeanStats:
    """A numeric outcome per unit (sentiment, seconds): n, sum and sum of squares."""

    n: int
    sum: float
    sum_squares: float


@dataclass(frozen=True)
class ProportionStats:
    """A 0/1 outcome per unit (converted or not): n and the number of successes.

    The variance used is p(1 - p), as in GrowthBook's ProportionStatistic.
    """

    n: int
    successes: float


@dataclass(frozen=True)
class RatioStats:
    """A ratio metric analysed per unit (per caller) by the delta method.

    For unit i, ``num_i`` is the sum of that caller's outcomes and ``den_i`` the number of
    that caller's calls. The metric is sum(num) / sum(den).
    """

    n: int
    num_sum: float
    num_sum_squares: float
    den_sum: float
    den_sum_squares: float
    cross_sum: float  # sum over units of num_i * den_i


ArmStats = MeanStats | ProportionStats | RatioStats


@dataclass(frozen=True)
class Moments:
    """What every comparison consumes: n, the metric's mean and its per-unit variance.

    The variance of the arm's mean estimate is ``variance / n``.
    """

    n: int
    mean: float
    variance: float


@dataclass(frozen=True)
class Estimate:
    """One scale of a comparison (absolute or relative lift).

    ``statistic`` is value / se. When ``ok`` is False the numbers are placeholders
    (0, 0, (0, 0), p = 1) and must not be shown as a result.
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float = 0.0
    ok: bool = True


NOT_AVAILABLE = Estimate(value=0.0, se=0.0, ci_low=0.0, ci_high=0.0, p_value=1.0, ok=False)


@dataclass(frozen=True)
class Comparison:
    """A variant against control: absolute and relative lift with intervals and p-values.

    ``alpha`` is the level of the test (and, for sequential results, the level used to tune
    the mixture parameter rho); ``interval_alpha`` is the level of the printed intervals,
    which differs from ``alpha`` only after a multiple-comparison adjustment.
    """

    method: Method
    control: Moments
    variant: Moments
    absolute: Estimate
    relative: Estimate
    dof: float
    alpha: float
    interval_alpha: float
    note: str = ""

    @property
    def lift(self) -> Estimate:
        """The relative lift (variant - control) / control: what verdicts are built on."""
        return self.relative

    @property
    def enough_data(self) -> bool:
        """True when the relative lift could be estimated."""
        return self.relative.ok


def check_direction(direction: str) -> Direction:
    """Validate a goal direction ("higher" or "lower" is better) and return it."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'higher' or 'lower', not {direction!r}")
    return direction  # type: ignore[return-value]


def good_sign(direction: str, control_mean: float = 1.0) -> int:
    """+1 when a positive relative lift is good, -1 when a negative one is.

    Lift is always (variant - control) / control; the goal direction only picks the good
    sign. Caveat handled here: with a negative control mean (e.g. sentiment on -1..1) a
    positive relative lift means the variant is *lower*, so the sign is flipped to keep
    "better" tied to the actual change variant - control.
    """
    sign = 1 if check_direction(direction) == "higher" else -1
    return sign if control_mean >= 0 else -sign


def check_alpha(alpha: float) -> float:
    """Validate a significance level: it must lie strictly between 0 and 1."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be strictly between 0 and 1, not {alpha!r}")
    return alpha


@dataclass(frozen=True)
class VariantResult:
    """One variant against control after the multiple-comparison step.

    ``comparison`` carries intervals at ``interval_alpha`` (Holm-consistent: they exclude 0
    exactly when ``adjusted_p_value < family_alpha``); ``p_value`` is the raw p-value of
    the relative lift and ``adjusted_p_value`` its Holm-adjusted value.
    """

    name: str
    comparison: Comparison
    p_value: float
    adjusted_p_value: float
    interval_alpha: float
    family_alpha: float = 0.05
    scale: Scale = "relative"

    @property
    def estimate(self) -> Estimate:
        """The lift on the scale the decision is made on (``scale``)."""
        return self.comparison.absolute if self.scale == "absolute" else self.comparison.relative


def improvement_interval(
    comparison: Comparison, direction: Direction, scale: Scale = "relative"
) -> tuple[float, float]:
    """The lift interval oriented so that positive means better, as (low, high).

    Method: multiply the interval of ``scale`` by a sign: on the relative scale
    :func:`apps.stats.types.good_sign` (+1 when higher is better, -1 when lower is better,
    flipped for a negative control mean); on the absolute scale (variant - control) the
    direction alone, whatever the sign of the control's mean.
    """
    if scale == "absolute":
        estimate, sign = comparison.absolute, good_sign(direction)
    else:
        estimate, sign = comparison.relative, good_sign(direction, comparison.control.mean)
    a, b = sign * estimate.ci_low, sign * estimate.ci_high
    return min(a, b), max(a, b)
