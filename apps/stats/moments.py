"""From sufficient statistics to the (n, mean, per-unit variance) every comparison uses."""

from __future__ import annotations

from .ratio import ratio_moments
from .types import ArmStats, MeanStats, Moments, ProportionStats, RatioStats


def mean_moments(stats: MeanStats) -> Moments:
    """Sample mean and unbiased sample variance from n, sum and sum of squares.

    Formula: mean = sum / n, variance = (sum_squares - sum^2 / n) / (n - 1), as in
    GrowthBook's SampleMeanStatistic. Assumes independent units. n = 0 gives mean 0 and
    n < 2 gives variance 0 (comparisons then say "not enough data"); rounding noise that
    would make the variance negative is clamped to 0.
    """
    n = stats.n
    if n < 1:
        return Moments(n=0, mean=0.0, variance=0.0)
    mean = stats.sum / n
    if n < 2:
        return Moments(n=n, mean=mean, variance=0.0)
    variance = (stats.sum_squares - stats.sum * stats.sum / n) / (n - 1)
    return Moments(n=n, mean=mean, variance=max(0.0, variance))


def proportion_moments(stats: ProportionStats) -> Moments:
    """Conversion rate p = successes / n with the Bernoulli variance p(1 - p).

    Formula: GrowthBook's ProportionStatistic (variance p(1 - p), no n - 1 correction), so
    the Welch comparison of two proportions reproduces gbstats' published values. Assumes
    independent 0/1 outcomes. n = 0 gives mean 0 and variance 0.
    """
    n = stats.n
    if n < 1:
        return Moments(n=0, mean=0.0, variance=0.0)
    p = stats.successes / n
    return Moments(n=n, mean=p, variance=max(0.0, p * (1.0 - p)))


def to_moments(stats: ArmStats | Moments) -> Moments:
    """Dispatch any arm input to :class:`Moments` (already-computed Moments pass through).

    Method: :func:`mean_moments`, :func:`proportion_moments` or the delta-method
    :func:`apps.stats.ratio.ratio_moments`, chosen by the input's type.
    """
    if isinstance(stats, Moments):
        return stats
    if isinstance(stats, ProportionStats):
        return proportion_moments(stats)
    if isinstance(stats, MeanStats):
        return mean_moments(stats)
    if isinstance(stats, RatioStats):
        return ratio_moments(stats)
    raise TypeError(f"unsupported arm statistics: {type(stats).__name__}")
