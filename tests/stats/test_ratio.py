"""Per-caller ratio metrics by the delta method, checked against brute force."""

import numpy as np
import pytest

from apps.stats.frequentist import fixed_horizon
from apps.stats.moments import mean_moments
from apps.stats.ratio import ratio_moments, ratio_stats_from_units
from apps.stats.types import RatioStats
from tests.stats.helpers import assert_all_finite, mean_stats


def _callers(rng, n, rate=0.3):
    """Callers with 1 + Poisson(1.5) calls each and a caller-specific conversion rate."""
    calls = 1 + rng.poisson(1.5, size=n)
    caller_rate = rng.beta(2.0, 2.0 * (1 - rate) / rate, size=n)
    conversions = rng.binomial(calls, caller_rate)
    return conversions.astype(float), calls.astype(float)


def test_mean_is_sum_over_sum():
    stats = ratio_stats_from_units([1, 0, 3], [2, 1, 4])
    assert ratio_moments(stats).mean == pytest.approx(4 / 7)


def test_delta_method_matches_repeated_sampling():
    # Brute force: the spread of the ratio over 4000 independent experiments of 400 callers
    # versus the delta-method variance estimated from a single experiment.
    rng = np.random.default_rng(7)
    n, reps = 400, 4000
    calls = 1 + rng.poisson(1.5, size=(reps, n))
    conversions = rng.binomial(calls, rng.beta(2.0, 14 / 3, size=(reps, n)))
    ratios = conversions.sum(axis=1) / calls.sum(axis=1)
    true_var = ratios.var(ddof=1)
    estimates = [
        ratio_moments(ratio_stats_from_units(conversions[i], calls[i])).variance / n
        for i in range(20)
    ]
    assert np.mean(estimates) == pytest.approx(true_var, rel=0.08)
    # Treating calls as independent (ignoring the caller) understates the noise by ~20%.
    pooled = conversions[0].sum() / calls[0].sum()
    naive = pooled * (1 - pooled) / calls[0].sum()
    assert naive < 0.88 * true_var


def test_delta_method_matches_bootstrap_on_one_sample():
    rng = np.random.default_rng(11)
    num, den = _callers(rng, 2000)
    delta_var = ratio_moments(ratio_stats_from_units(num, den)).variance / num.size
    idx = rng.integers(0, num.size, size=(2000, num.size))
    boot = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    assert delta_var == pytest.approx(boot.var(ddof=1), rel=0.1)


def test_one_call_per_caller_reduces_to_a_mean_metric():
    values = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
    ratio = ratio_moments(ratio_stats_from_units(values, [1] * len(values)))
    plain = mean_moments(mean_stats(values))
    assert ratio.mean == pytest.approx(plain.mean)
    assert ratio.variance == pytest.approx(plain.variance)


def test_ratio_stats_plug_into_comparisons():
    rng = np.random.default_rng(3)
    control = ratio_stats_from_units(*_callers(rng, 1500, rate=0.30))
    variant = ratio_stats_from_units(*_callers(rng, 1500, rate=0.36))
    result = fixed_horizon(control, variant)
    assert result.enough_data
    assert result.relative.value == pytest.approx(
        ratio_moments(variant).mean / ratio_moments(control).mean - 1
    )


def test_ratio_thin_data():
    empty = RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    single = ratio_stats_from_units([1.0], [2.0])
    assert ratio_moments(empty).variance == 0.0
    assert ratio_moments(single).variance == 0.0
    assert_all_finite(fixed_horizon(empty, single))
    with pytest.raises(ValueError):
        ratio_stats_from_units([1, 2], [1])
