"""Planning: calls per variant (Evan Miller's convention) and days left."""

import math

import pytest
from scipy.stats import norm

from apps.stats.planning import (
    calls_per_variant_for_mean,
    calls_per_variant_for_proportion,
    days_left,
)


def test_evan_miller_20_percent_plus_5_points_is_1030():
    # evanmiller.org/ab-testing/sample-size.html: baseline 20%, MDE 5% absolute, 80% power,
    # 5% significance -> "1,030" per variation (the raw value is 1030.2).
    assert calls_per_variant_for_proportion(0.20, 0.05, alpha=0.05, power=0.8) == 1030
    assert calls_per_variant_for_proportion(0.20, 0.05, rounding="up") == 1031


def test_proportion_formula_by_hand():
    z_a, z_b = norm.ppf(0.975), norm.ppf(0.8)
    raw = (z_a * math.sqrt(2 * 0.2 * 0.8) + z_b * math.sqrt(0.2 * 0.8 + 0.25 * 0.75)) ** 2
    assert raw / 0.05**2 == pytest.approx(1030.219, abs=1e-3)


def test_more_power_or_smaller_effect_needs_more_calls():
    base = calls_per_variant_for_proportion(0.20, 0.05)
    assert calls_per_variant_for_proportion(0.20, 0.05, power=0.9) > base
    assert calls_per_variant_for_proportion(0.20, 0.02) > base
    assert calls_per_variant_for_proportion(0.20, 0.05, alpha=0.01) > base


def test_impossible_proportion_plans_return_none():
    assert calls_per_variant_for_proportion(0.2, 0.0) is None
    assert calls_per_variant_for_proportion(0.0, 0.05) is None
    assert calls_per_variant_for_proportion(0.45, 0.6) is None
    with pytest.raises(ValueError):
        calls_per_variant_for_proportion(0.2, 0.05, power=1.0)


def test_mean_plan():
    # n = 2 (1.959964 + 0.841621)^2 * 50^2 / 10^2 = 392.4 -> 393
    assert calls_per_variant_for_mean(100.0, 50.0, 0.10) == 393
    assert calls_per_variant_for_mean(100.0, 50.0, -0.10) == 393
    assert calls_per_variant_for_mean(0.0, 50.0, 0.10) is None
    assert calls_per_variant_for_mean(100.0, 0.0, 0.10) is None


def test_days_left():
    assert days_left(calls_per_day=100, calls_so_far=500, needed_total=2060) == 16
    assert days_left(calls_per_day=100, calls_so_far=2100, needed_total=2060) == 0
    assert days_left(calls_per_day=0, calls_so_far=500, needed_total=2060) is None
    assert days_left(calls_per_day=0, calls_so_far=5000, needed_total=2060) == 0
    assert days_left(calls_per_day=float("nan"), calls_so_far=0, needed_total=10) is None


# The plan for the test that decides (issue 11, item 7) -----------------------------------------


def test_a_decrease_above_half_is_not_folded_into_the_wrong_direction():
    """Main folded 80% to 20% but kept the -5 points, planning 20% -> 15% (973)."""
    from apps.stats.planning import calls_per_variant_for_proportion

    assert calls_per_variant_for_proportion(0.80, -0.05) == 1030
    assert calls_per_variant_for_proportion(0.80, 0.05) == calls_per_variant_for_proportion(
        0.20, -0.05
    )


def test_the_sequential_plan_meets_its_equation():
    """delta - z_0.8 se(n) = h(n) at the plan, and not one unit earlier."""
    import math

    from apps.stats.planning import units_per_variant_sequential
    from apps.stats.sequential import sequential_halfwidth, sequential_rho

    delta, v = 0.02, 0.09
    n = units_per_variant_sequential(delta, v, v)
    rho = sequential_rho(0.05, 5000)

    def margin(k):
        se = math.sqrt(2 * v / k)
        return delta - 0.8416212 * se - sequential_halfwidth(se * se * 2 * k, 2 * k, 0.05, rho)

    assert margin(n) >= 0 > margin(n - 1)


def test_the_sequential_plan_needs_more_than_a_single_look():
    from apps.stats.planning import calls_per_variant_for_proportion, units_per_variant_for_goal

    fixed = calls_per_variant_for_proportion(0.10, 0.02)
    sequential = units_per_variant_for_goal("conversion", 0.10, None, 0.20)
    assert fixed == 3623 and sequential == 7589


def test_sentiment_is_planned_on_an_absolute_change_whatever_the_sign_of_its_mean():
    from apps.stats.planning import units_per_variant_for_goal

    below = units_per_variant_for_goal("sentiment", -0.01, 0.25, 0.04)
    above = units_per_variant_for_goal("sentiment", 0.30, 0.25, 0.04)
    assert below == above and below < 10_000


def test_no_plan_without_an_effect_or_a_spread():
    from apps.stats.planning import units_per_variant_for_goal

    assert units_per_variant_for_goal("conversion", 0.10, None, 0.0) is None
    assert units_per_variant_for_goal("duration", 100.0, 0.0, 0.05) is None
    assert units_per_variant_for_goal("conversion", 0.95, None, 0.10) is None  # above 100%


def test_means_on_other_scales_are_planned_as_relative_changes_of_the_mean():
    """Response time (ms), cost (dollars), counts per call: like duration, a relative change
    of the mean; they were read as rates and got no plan."""
    from apps.stats.planning import units_per_variant_for_goal
    from apps.stats.scales import declare

    declare("latency_mean", "ms")
    seconds = units_per_variant_for_goal("duration", 700.0, 250.0**2, 0.05, direction="lower")
    ms = units_per_variant_for_goal("latency_mean", 700.0, 250.0**2, 0.05, direction="lower")
    assert ms is not None and ms == seconds
