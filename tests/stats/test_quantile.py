"""Quantile metrics (apps.stats.quantile): the estimate against numpy, the interval's coverage
by simulation (independent calls and repeat callers), and the edges."""

import math

import numpy as np
import pytest

from apps.stats.frequentist import fixed_horizon
from apps.stats.quantile import (
    QuantileStats,
    fewest_values,
    quantile_moments,
    quantile_stats,
    quantile_variance,
    woodruff_levels,
)
from apps.stats.sequential import sequential
from apps.stats.types import RatioStats


def _calls(values):
    return [[v] for v in values]


@pytest.mark.parametrize("level", [0.05, 0.5, 0.95, 0.99])
def test_the_quantile_is_numpys_linear_quantile(level):
    rng = np.random.default_rng(1)
    values = rng.lognormal(6.6, 0.4, 1234)
    stats = quantile_stats(_calls(values), level)
    low, high = woodruff_levels(level, values.size)
    assert stats.quantile == pytest.approx(np.quantile(values, level), rel=1e-12)
    assert stats.lower == pytest.approx(np.quantile(values, low), rel=1e-12)
    assert stats.upper == pytest.approx(np.quantile(values, high), rel=1e-12)
    assert stats.n == 1234 and stats.below.n == 1234
    assert stats.below.num_sum == np.sum(values <= np.quantile(values, level))


def test_woodruff_levels_are_p_plus_minus_z_times_the_binomial_standard_error():
    low, high = woodruff_levels(0.95, 1000)
    half = 1.959963984540054 * math.sqrt(0.95 * 0.05 / 1000)
    assert (low, high) == pytest.approx((0.95 - half, 0.95 + half), rel=1e-12)
    assert woodruff_levels(0.95, 10) == (pytest.approx(0.95 - 0.1350808), 1.0)  # p + h > 1


def test_with_independent_calls_the_variance_is_woodruffs():
    """One call per unit: the design effect is the binomial one, so Var = ((U - L) / 2z)^2,
    up to F(q) differing from p by less than one call."""
    rng = np.random.default_rng(2)
    values = rng.exponential(500, 4000)
    stats = quantile_stats(_calls(values), 0.95)
    woodruff = ((stats.upper - stats.lower) / (2 * 1.959963984540054)) ** 2
    assert quantile_variance(stats) == pytest.approx(woodruff, rel=0.01)
    # and near the asymptotic p (1 - p) / (n f(q)^2) of the exponential distribution
    density = np.exp(-np.quantile(values, 0.95) / 500) / 500
    assert quantile_variance(stats) == pytest.approx(0.95 * 0.05 / 4000 / density**2, rel=0.2)


def _repeat_callers(rng, callers, scale):
    """Callers with 1 to 10 calls whose latencies share the caller's own level."""
    counts = np.where(rng.random(callers) < 0.3, rng.integers(3, 11, callers), 1)
    level = rng.lognormal(0, 0.5, callers)
    calls = scale * np.repeat(level, counts) * rng.lognormal(6.6, 0.2, counts.sum())
    return np.split(calls, np.cumsum(counts)[:-1])


def _true_quantile(scale, level):
    """The calls' p-quantile in the repeat-callers population (weighted by calls), from a
    very large draw."""
    rng = np.random.default_rng(99)
    return np.quantile(np.concatenate(_repeat_callers(rng, 200_000, scale)), level)


@pytest.mark.parametrize("clustered", [False, True])
def test_the_95_percent_interval_covers_the_true_p95_about_95_percent_of_the_time(clustered):
    rng = np.random.default_rng(3)
    truth = _true_quantile(1.0, 0.95) if clustered else np.exp(6.6 + 0.4 * 1.6448536269514722)
    covered = 0
    for _ in range(400):
        if clustered:
            units = _repeat_callers(rng, 800, 1.0)
        else:
            units = _calls(rng.lognormal(6.6, 0.4, 2000))
        m = quantile_moments(quantile_stats(units, 0.95))
        half = 1.959963984540054 * math.sqrt(m.variance / m.n)
        covered += m.mean - half <= truth <= m.mean + half
    assert 0.92 <= covered / 400 <= 0.98


def test_ignoring_the_callers_would_cover_too_rarely():
    """The clustering matters: the same callers analysed as if every call were independent
    give an interval that misses the true p95 far more than 5% of the time."""
    rng = np.random.default_rng(4)
    truth = _true_quantile(1.0, 0.95)
    covered = clustered_wider = 0
    for _ in range(200):
        units = _repeat_callers(rng, 800, 1.0)
        naive = quantile_moments(quantile_stats(_calls(np.concatenate(units)), 0.95))
        half = 1.959963984540054 * math.sqrt(naive.variance / naive.n)
        covered += naive.mean - half <= truth <= naive.mean + half
        clustered = quantile_moments(quantile_stats(units, 0.95))
        clustered_wider += clustered.variance / clustered.n > naive.variance / naive.n
    assert covered / 200 < 0.90 and clustered_wider / 200 > 0.9


def test_the_difference_of_two_arms_p95_has_a_valid_interval():
    """Through the comparison every metric uses: an A/A test rejects about 5% of the time;
    a 20% slower variant is found."""
    rng = np.random.default_rng(5)
    rejected = found = 0
    for _ in range(300):
        a = quantile_moments(quantile_stats(_repeat_callers(rng, 1000, 1.0), 0.95))
        b = quantile_moments(quantile_stats(_repeat_callers(rng, 1000, 1.0), 0.95))
        worse = quantile_moments(quantile_stats(_repeat_callers(rng, 1000, 1.2), 0.95))
        rejected += fixed_horizon(a, b).absolute.p_value < 0.05
        found += fixed_horizon(a, worse).absolute.p_value < 0.05
    assert rejected / 300 <= 0.08 and found / 300 > 0.8


def test_no_values_gives_no_units_and_not_enough_data():
    stats = quantile_stats([], 0.95)
    assert stats.n == 0 and quantile_moments(stats).n == 0
    empty = quantile_stats([[], [float("nan")]], 0.95)
    assert empty.n == 0 and quantile_moments(empty).n == 0
    comparison = sequential(quantile_moments(empty), quantile_moments(stats))
    assert not comparison.enough_data and not comparison.absolute.ok


def test_one_value_is_its_own_quantile_without_a_variance():
    m = quantile_moments(quantile_stats([[420.0]], 0.95))
    assert (m.n, m.mean, m.variance) == (1, 420.0, 0.0)


def test_too_few_calls_for_the_level_give_no_variance():
    """72 calls cannot place a 95th percentile's upper bound (p + h > 1): not enough data."""
    rng = np.random.default_rng(6)
    few = quantile_stats(_calls(rng.normal(500, 50, 72)), 0.95)
    enough = quantile_stats(_calls(rng.normal(500, 50, 73)), 0.95)
    assert quantile_variance(few) == 0.0 and quantile_variance(enough) > 0


@pytest.mark.parametrize(("level", "fewest"), [(0.95, 73), (0.05, 73), (0.5, 4), (0.99, 381)])
def test_the_fewest_values_are_the_first_count_with_a_variance(level, fewest):
    """The bound z^2 p / (1 - p) by hand: 3.8415 * 19 = 72.99 for p = 0.95, 3.8415 for the
    median, 3.8415 * 99 = 380.3 for p = 0.99; checked on data, not on the bound alone."""
    assert fewest_values(level) == fewest
    rng = np.random.default_rng(7)
    values = rng.normal(500, 50, fewest)
    assert quantile_variance(quantile_stats(_calls(values[:-1]), level)) == 0.0
    assert quantile_variance(quantile_stats(_calls(values), level)) > 0


def test_all_equal_values_have_no_spread():
    stats = quantile_stats(_calls([250.0] * 500), 0.95)
    assert stats.quantile == 250.0 and quantile_variance(stats) == 0.0
    one_arm = quantile_moments(stats)
    other = quantile_moments(quantile_stats(_calls(np.linspace(1, 500, 500)), 0.95))
    assert not fixed_horizon(one_arm, one_arm).absolute.ok
    assert fixed_horizon(one_arm, other).absolute.ok  # one arm's spread is enough


def test_nan_and_infinity_are_ignored_as_unreported():
    rng = np.random.default_rng(7)
    values = list(rng.lognormal(6, 0.5, 500))
    dirty = [*values, float("nan"), float("inf"), -float("inf")]
    assert quantile_stats(_calls(dirty), 0.95) == quantile_stats(_calls(values), 0.95)


def test_huge_values_do_not_overflow_into_nan():
    rng = np.random.default_rng(8)
    values = np.r_[rng.normal(1e300, 1e298, 500), [1e308] * 30]
    m = quantile_moments(quantile_stats(_calls(values), 0.95))
    assert math.isfinite(m.mean) and math.isfinite(m.variance) and m.variance >= 0


def test_one_arm_empty_compares_as_not_enough_data():
    rng = np.random.default_rng(9)
    full = quantile_moments(quantile_stats(_calls(rng.lognormal(6, 0.5, 500)), 0.95))
    empty = quantile_moments(quantile_stats([], 0.95))
    assert not sequential(full, empty).absolute.ok and not sequential(empty, full).absolute.ok


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, float("nan")])
def test_a_level_outside_zero_to_one_is_refused(level):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        quantile_stats([[1.0]], level)


def test_negative_values_are_quantiles_like_any_other():
    values = np.linspace(-1000, -1, 1000)
    stats = quantile_stats(_calls(values), 0.5)
    assert stats.quantile == pytest.approx(np.quantile(values, 0.5))
    assert quantile_variance(stats) > 0


def test_a_share_of_zero_or_one_gives_no_variance_not_an_error():
    stats = QuantileStats(
        0.95, 500, 1.0, 0.5, 2.0, RatioStats(100, 500.0, 2500.0, 500.0, 2500.0, 2500.0)
    )
    assert quantile_variance(stats) == 0.0
