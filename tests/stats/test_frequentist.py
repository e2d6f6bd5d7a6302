"""Fixed-horizon Welch comparison and pooled z-test against published reference values."""

import pytest

from apps.stats.frequentist import fixed_horizon, two_proportion_z_test
from apps.stats.types import MeanStats, ProportionStats
from tests.stats.helpers import assert_all_finite, mean_stats

approx4 = {"abs": 5e-5}
approx5 = {"abs": 5e-6}


def test_proportions_100_of_1000_vs_125_of_1000():
    result = fixed_horizon(ProportionStats(1000, 100), ProportionStats(1000, 125))
    lift = result.relative
    assert lift.value == pytest.approx(0.25, abs=1e-12)
    assert lift.se == pytest.approx(0.158114, abs=5e-7)
    assert lift.p_value == pytest.approx(0.1140, **approx4)
    assert lift.ci_low == pytest.approx(-0.0601, **approx4)
    assert lift.ci_high == pytest.approx(0.5601, **approx4)
    assert result.absolute.value == pytest.approx(0.025, abs=1e-12)


# GrowthBook gbstats tests/frequentist/test_tests.py, TestTwoSidedTTest (rounded to 5 dp).
GB_A = MeanStats(n=3407, sum=1396.87, sum_squares=52377.9767)
GB_B = MeanStats(n=3461, sum=2422.7, sum_squares=134698.29)


def test_growthbook_two_sided_ttest_relative():
    lift = fixed_horizon(GB_A, GB_B).relative
    assert lift.value == pytest.approx(0.70732, **approx5)
    assert lift.se == pytest.approx(0.37879, **approx5)
    assert (lift.ci_low, lift.ci_high) == pytest.approx((-0.03526, 1.44989), **approx5)
    assert lift.p_value == pytest.approx(0.06191, **approx5)


def test_growthbook_two_sided_ttest_absolute():
    diff = fixed_horizon(GB_A, GB_B).absolute
    assert diff.value == pytest.approx(0.29, **approx5)
    assert diff.se == pytest.approx(0.12478, **approx5)
    assert (diff.ci_low, diff.ci_high) == pytest.approx((0.04538, 0.53462), **approx5)
    assert diff.p_value == pytest.approx(0.02016, **approx5)


def test_growthbook_two_sided_ttest_binom():
    lift = fixed_horizon(ProportionStats(28, 14), ProportionStats(30, 16)).relative
    assert lift.value == pytest.approx(0.06667, **approx5)
    assert lift.se == pytest.approx(0.2717, **approx5)
    assert (lift.ci_low, lift.ci_high) == pytest.approx((-0.47767, 0.61101), **approx5)
    assert lift.p_value == pytest.approx(0.80707, **approx5)


SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_r_welch_t_test_on_sleep_data():
    # R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776, p-value = 0.07939
    # R reports group 1 minus group 2, so group 2 plays the control here.
    result = fixed_horizon(mean_stats(SLEEP_2), mean_stats(SLEEP_1))
    diff = result.absolute
    assert diff.value == pytest.approx(-1.58, abs=1e-12)
    assert diff.statistic == pytest.approx(-1.8608, **approx4)
    assert result.dof == pytest.approx(17.776, abs=5e-4)
    assert diff.p_value == pytest.approx(0.07939, **approx5)
    # R's 95 percent confidence interval: -3.3654832  0.2054832
    assert (diff.ci_low, diff.ci_high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-7)


def test_pooled_two_proportion_z_test():
    result = two_proportion_z_test(5, 83, 12, 99)
    assert result.z == pytest.approx(-1.40783, **approx5)
    assert result.p_value == pytest.approx(0.15918, **approx5)
    assert two_proportion_z_test(12, 99, 5, 83).z == pytest.approx(1.40783, **approx5)


def test_interval_alpha_only_changes_the_interval():
    base = fixed_horizon(GB_A, GB_B)
    wide = fixed_horizon(GB_A, GB_B, interval_alpha=0.01)
    assert wide.relative.p_value == base.relative.p_value
    assert wide.relative.ci_low < base.relative.ci_low
    assert wide.relative.ci_high > base.relative.ci_high


@pytest.mark.parametrize(
    ("control", "variant"),
    [
        (ProportionStats(0, 0), ProportionStats(0, 0)),  # nothing yet
        (ProportionStats(1, 1), ProportionStats(1, 0)),  # n < 2
        (ProportionStats(100, 0), ProportionStats(100, 0)),  # zero variance, control mean 0
        (ProportionStats(100, 100), ProportionStats(100, 100)),  # zero variance
        (MeanStats(5, 10.0, 20.0), MeanStats(5, 10.0, 20.0)),  # constant values
        (MeanStats(1, 3.0, 9.0), MeanStats(50, 100.0, 400.0)),  # n = 1
    ],
)
def test_not_enough_data_never_raises_and_stays_finite(control, variant):
    result = fixed_horizon(control, variant)
    assert not result.enough_data
    assert result.note
    assert result.relative.p_value == 1.0
    assert_all_finite(result)


def test_control_mean_zero_keeps_the_absolute_scale():
    result = fixed_horizon(ProportionStats(100, 0), ProportionStats(100, 5))
    assert not result.relative.ok
    assert "0" in result.note
    assert result.absolute.ok
    assert result.absolute.value == pytest.approx(0.05)
    assert_all_finite(result)


def test_z_test_degenerate_inputs():
    assert not two_proportion_z_test(0, 0, 3, 10).ok
    assert two_proportion_z_test(0, 10, 0, 10).p_value == 1.0
