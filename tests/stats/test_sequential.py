"""Sequential (always-valid) comparison against GrowthBook's published values."""

import math

import numpy as np
import pytest

from apps.stats.sequential import (
    always_valid_p_value,
    sequential,
    sequential_halfwidth,
    sequential_rho,
)
from apps.stats.types import MeanStats, ProportionStats
from tests.stats.helpers import assert_all_finite

approx4 = {"abs": 5e-5}
approx5 = {"abs": 5e-6}


def test_proportions_100_of_1000_vs_125_of_1000():
    lift = sequential(ProportionStats(1000, 100), ProportionStats(1000, 125)).relative
    assert lift.value == pytest.approx(0.25, abs=1e-12)
    assert (lift.ci_low, lift.ci_high) == pytest.approx((-0.2439, 0.7439), **approx4)
    assert lift.p_value == pytest.approx(0.7897, **approx4)


def test_growthbook_sequential_test_runs():
    # gbstats tests/frequentist/test_tests.py TestSequentialTTest.test_sequential_test_runs
    control = MeanStats(n=3000, sum=1396.87, sum_squares=52377.9767)
    variant = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
    lift = sequential(control, variant, tuning=1000).relative
    assert lift.value == pytest.approx(0.50336, **approx5)
    assert lift.se == pytest.approx(0.33341, **approx5)
    assert (lift.ci_low, lift.ci_high) == pytest.approx((-0.55844, 1.56516), **approx5)
    assert lift.p_value == 1.0


def test_growthbook_sequential_test_runs_prop():
    # gbstats TestSequentialTTest.test_sequential_test_runs_prop (default N* = 5000)
    lift = sequential(ProportionStats(3000, 1396), ProportionStats(3461, 2422)).relative
    assert lift.value == pytest.approx(0.50386, **approx5)
    assert lift.se == pytest.approx(0.03386, **approx5)
    assert (lift.ci_low, lift.ci_high) == pytest.approx((0.40098, 0.60675), **approx5)
    assert round(lift.p_value, 5) == 0.0


def test_growthbook_tuning_is_tightest_near_the_sample_size():
    # gbstats TestSequentialTTest.test_sequential_test_tuning_as_expected (n = 6461)
    control = MeanStats(n=3000, sum=1396.87, sum_squares=52377.9767)
    variant = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)
    widths = {
        tuning: sequential(control, variant, tuning=tuning).relative for tuning in (10, 6461, 10000)
    }
    assert widths[10].ci_low < widths[10000].ci_low < widths[6461].ci_low
    assert widths[10].ci_high > widths[10000].ci_high > widths[6461].ci_high


def test_rho_formula():
    log_a = math.log(0.05)
    expected = math.sqrt((-2 * log_a + math.log(-2 * log_a + 1)) / 5000)
    assert sequential_rho(0.05) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        sequential_rho(0.05, tuning=0)


def test_p_value_below_alpha_exactly_when_interval_excludes_zero():
    rho = sequential_rho(0.05)
    n, se = 4000, 0.05
    for value in np.linspace(-0.3, 0.3, 61):
        half = sequential_halfwidth(se**2 * n, n, 0.05, rho)
        excludes = abs(value) > half
        assert (always_valid_p_value(value, se, n, rho) < 0.05) == excludes


def test_p_value_does_not_overflow():
    assert always_valid_p_value(50.0, 0.01, 10**6, sequential_rho(0.05)) == 0.0


def test_interval_alpha_keeps_rho_and_p_value():
    control, variant = ProportionStats(2000, 200), ProportionStats(2000, 250)
    base = sequential(control, variant)
    wide = sequential(control, variant, interval_alpha=0.01)
    assert wide.relative.p_value == base.relative.p_value
    assert wide.relative.ci_low < base.relative.ci_low


def test_thin_data_is_finite():
    result = sequential(ProportionStats(1, 0), ProportionStats(0, 0))
    assert not result.enough_data
    assert_all_finite(result)
