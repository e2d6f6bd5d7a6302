"""CUPED on per-caller ratios, checked against numpy least squares on the units themselves."""

import dataclasses

import numpy as np
import pytest

from apps.stats.cuped import (
    CovariateStats,
    add,
    covariate_stats_from_units,
    cuped,
    pooled_theta,
)
from apps.stats.ratio import ratio_moments


def _units(rng, n, *, history=0.5, lift=0.0):
    """Callers with a propensity ~ Beta; some have 1-10 calls in the pre-period; each makes
    1-5 calls after exposure, converting at their propensity (x (1 + lift))."""
    p = rng.beta(0.6, 6.0, n)
    pre_den = np.where(rng.random(n) < history, rng.integers(1, 11, n), 0).astype(float)
    pre_num = rng.binomial(pre_den.astype(int), p).astype(float)
    den = rng.integers(1, 6, n).astype(float)
    num = rng.binomial(den.astype(int), np.minimum(p * (1 + lift), 1)).astype(float)
    return num, den, pre_num, pre_den


def _numpy(groups):
    """Independent: per group L and x as arrays; theta by lstsq on group-centred rows; each
    group's adjusted mean and the ddof=1 variance of L - x theta."""
    rows_x, rows_l, parts = [], [], []
    for num, den, pre_num, pre_den in groups:
        has = pre_den > 0
        x = np.column_stack([np.where(has, pre_num / np.where(has, pre_den, 1), 0), has * 1.0])
        r = num.sum() / den.sum()
        lin = (num - r * den) / den.mean()
        rows_x.append(x - x.mean(axis=0))
        rows_l.append(lin - lin.mean())
        parts.append((r, x, lin))
    theta = np.linalg.lstsq(np.vstack(rows_x), np.concatenate(rows_l), rcond=None)[0]
    centre = np.vstack([x for _, x, _ in parts]).mean(axis=0)
    out = [
        (r - (x.mean(axis=0) - centre) @ theta, np.var(lin - x @ theta, ddof=1))
        for r, x, lin in parts
    ]
    removed = 1 - sum(
        np.var(lin - x @ theta, ddof=1) * (len(lin) - 1) for _, x, lin in parts
    ) / sum(np.var(lin, ddof=1) * (len(lin) - 1) for _, x, lin in parts)
    return theta, out, removed


def test_theta_and_adjusted_moments_match_numpy_least_squares():
    rng = np.random.default_rng(3)
    control, variant = _units(rng, 800), _units(rng, 700, lift=0.2)
    stats = {
        0: {
            "control": covariate_stats_from_units(*control),
            "b": covariate_stats_from_units(*variant),
        }
    }
    result = cuped(stats)
    theta, expected, removed = _numpy([control, variant])
    assert result.theta == pytest.approx(theta, rel=1e-9)
    for key, (mean, variance) in zip(("control", "b"), expected, strict=True):
        assert result.phases[key][0].mean == pytest.approx(mean, rel=1e-9)
        assert result.phases[key][0].variance == pytest.approx(variance, rel=1e-9)
        assert result.arms[key].mean == pytest.approx(mean, rel=1e-9)
    assert result.variance_removed == pytest.approx(removed, rel=1e-9)
    assert result.variance_removed > 0.03  # the history predicts: the test can fail
    assert result.with_history == int((control[3] > 0).sum() + (variant[3] > 0).sum())


def test_one_theta_pools_phases_and_centres_each_phase_on_its_own_mean():
    rng = np.random.default_rng(5)
    data = [_units(rng, n, history=h) for n, h in ((300, 0.2), (500, 0.2), (400, 0.7), (200, 0.7))]
    stats = {
        0: {
            "control": covariate_stats_from_units(*data[0]),
            "b": covariate_stats_from_units(*data[1]),
        },
        1: {
            "control": covariate_stats_from_units(*data[2]),
            "b": covariate_stats_from_units(*data[3]),
        },
    }
    result = cuped(stats)
    theta, _, _ = _numpy(data)
    assert result.theta == pytest.approx(theta, rel=1e-9)
    x = [
        np.column_stack([np.where(d[3] > 0, d[2] / np.maximum(d[3], 1), 0), (d[3] > 0) * 1.0])
        for d in data[2:]
    ]
    centre = np.vstack(x).mean(axis=0)
    r = data[2][0].sum() / data[2][1].sum()
    assert result.phases["control"][1].mean == pytest.approx(
        r - (x[0].mean(axis=0) - centre) @ theta, rel=1e-9
    )


def test_nobody_with_history_gives_the_unadjusted_moments():
    rng = np.random.default_rng(1)
    num, den, _, _ = _units(rng, 500)
    zeros = np.zeros_like(num)
    stats = {0: {"control": covariate_stats_from_units(num, den, zeros, zeros)}}
    result = cuped(stats)
    assert result.theta == (0.0, 0.0)
    assert result.variance_removed == 0.0
    assert result.with_history == 0
    plain = ratio_moments(stats[0]["control"].ratio)
    assert result.phases["control"][0] == plain


def test_everyone_with_history_drops_the_flat_indicator_and_keeps_the_value():
    rng = np.random.default_rng(2)
    num, den, pre_num, pre_den = _units(rng, 600, history=1.0)
    s = covariate_stats_from_units(num, den, pre_num, pre_den)
    theta = pooled_theta([s])
    assert theta[1] == 0.0  # the indicator has no spread
    x = pre_num / pre_den
    lin = (num - num.sum() / den.sum() * den) / den.mean()
    slope = np.polyfit(x, lin, 1)[0]
    assert theta[0] == pytest.approx(slope, rel=1e-9)


def test_a_covariate_with_no_spread_at_all_gives_no_adjustment():
    rng = np.random.default_rng(4)
    num, den, _, _ = _units(rng, 300)
    ones = np.ones_like(num)  # everyone had one call, all converted: x = (1, 1) for all
    result = cuped({0: {"a": covariate_stats_from_units(num, den, ones, ones)}})
    assert result.theta == (0.0, 0.0)
    assert result.phases["a"][0].variance == pytest.approx(
        ratio_moments(result_ratio(num, den)).variance
    )


def result_ratio(num, den):
    return covariate_stats_from_units(num, den, np.zeros_like(num), np.zeros_like(num)).ratio


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e308 * 10])
def test_non_finite_statistics_give_the_unadjusted_moments(bad):
    rng = np.random.default_rng(6)
    s = covariate_stats_from_units(*_units(rng, 200))
    broken = dataclasses.replace(s, x_num_sum=(bad, s.x_num_sum[1]))
    result = cuped({0: {"a": broken, "b": s}})
    assert result.theta == (0.0, 0.0)
    assert result.phases["a"][0] == ratio_moments(s.ratio)
    assert result.variance_removed == 0.0


def test_empty_arms_and_a_single_unit_do_not_raise():
    one = covariate_stats_from_units([1.0], [1.0], [1.0], [2.0])
    empty = add([])
    result = cuped({0: {"control": empty, "b": one}})
    assert result.phases["control"][0].n == 0
    assert result.phases["b"][0].n == 1
    assert result.units == 1 and result.variance_removed == 0.0
    assert cuped({}).arms == {}


def test_zero_variance_outcome_removes_nothing():
    n = 100
    num, den = np.ones(n), np.ones(n)  # everyone converted on their one call
    rng = np.random.default_rng(8)
    pre_den = rng.integers(0, 4, n).astype(float)
    result = cuped({0: {"a": covariate_stats_from_units(num, den, pre_den * 0.5, pre_den)}})
    assert result.theta == pytest.approx((0.0, 0.0), abs=1e-12)
    assert result.phases["a"][0].variance == pytest.approx(0.0, abs=1e-12)
    assert result.variance_removed == 0.0


def test_huge_values_stay_finite():
    num = np.array([1e150, 0.0, 3e150, 2e150])
    den = np.ones(4)
    s = covariate_stats_from_units(num, den, num, den)
    result = cuped({0: {"a": s}})
    assert all(np.isfinite(result.theta))
    assert np.isfinite(result.phases["a"][0].mean)


def test_the_adjustment_does_not_move_an_aa_difference_on_average():
    """Unbiased: over many A/A experiments the adjusted difference averages to 0, and its
    spread matches the adjusted variances (the adjusted standard error is honest)."""
    rng = np.random.default_rng(9)
    diffs, ses = [], []
    for _ in range(300):
        c, v = _units(rng, 400), _units(rng, 400)
        result = cuped(
            {0: {"c": covariate_stats_from_units(*c), "v": covariate_stats_from_units(*v)}}
        )
        mc, mv = result.phases["c"][0], result.phases["v"][0]
        diffs.append(mv.mean - mc.mean)
        ses.append((mc.variance / mc.n + mv.variance / mv.n) ** 0.5)
    diffs = np.array(diffs)
    assert abs(diffs.mean()) < 3 * diffs.std() / len(diffs) ** 0.5
    assert diffs.std() == pytest.approx(np.mean(ses), rel=0.12)


def test_the_sums_are_additive():
    rng = np.random.default_rng(10)
    a, b = _units(rng, 50), _units(rng, 70)
    both = [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
    joined = add([covariate_stats_from_units(*a), covariate_stats_from_units(*b)])
    whole = covariate_stats_from_units(*both)
    assert isinstance(joined, CovariateStats)
    assert joined.ratio.n == whole.ratio.n
    assert joined.ratio.cross_sum == pytest.approx(whole.ratio.cross_sum)
    for name in ("x_sum", "xx_sum", "x_num_sum", "x_den_sum"):
        assert getattr(joined, name) == pytest.approx(getattr(whole, name))
    assert joined.with_history == whole.with_history
