"""Bayesian chance to beat control (Gaussian on the relative lift)."""

import pytest
from scipy.stats import norm

from apps.stats.bayesian import bayesian, chance_to_beat, posterior
from apps.stats.types import MeanStats, ProportionStats
from tests.stats.helpers import assert_all_finite


def test_flat_prior_chance_is_phi_of_mean_over_se():
    result = bayesian(ProportionStats(1000, 100), ProportionStats(1000, 125))
    assert result.lift_mean == pytest.approx(0.25)
    assert result.lift_sd == pytest.approx(0.158114, abs=5e-7)
    assert result.chance_to_win == pytest.approx(norm.cdf(0.25 / 0.1581139), abs=1e-6)
    assert result.chance_to_win == pytest.approx(0.943, abs=5e-4)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.0599, 0.5599), abs=5e-5)


def test_lower_is_better_flips_the_chance():
    control, variant = ProportionStats(1000, 100), ProportionStats(1000, 125)
    higher = bayesian(control, variant, direction="higher").chance_to_win
    lower = bayesian(control, variant, direction="lower").chance_to_win
    assert higher + lower == pytest.approx(1.0)
    assert chance_to_beat(-0.1, 0.05, "lower") == pytest.approx(norm.cdf(2.0))


def test_negative_control_mean_judges_the_actual_change():
    # Sentiment on -1..1: control -0.2, variant -0.1 is an improvement when higher is better,
    # although the relative lift (-0.1 + 0.2) / -0.2 = -50% is negative.
    control = MeanStats(n=400, sum=-80.0, sum_squares=400 * (0.25 + 0.04))
    variant = MeanStats(n=400, sum=-40.0, sum_squares=400 * (0.25 + 0.01))
    result = bayesian(control, variant, direction="higher")
    assert result.lift_mean == pytest.approx(-0.5)
    assert result.chance_to_win > 0.99


def test_proper_prior_shrinks_towards_prior_mean():
    mean, sd = posterior(0.2, 0.1, prior_mean=0.0, prior_sd=0.1)
    assert mean == pytest.approx(0.1)
    assert sd == pytest.approx(0.1 / 2**0.5)
    assert posterior(0.2, 0.1) == (0.2, 0.1)


def test_no_information_gives_half():
    result = bayesian(ProportionStats(10, 0), ProportionStats(10, 0))
    assert result.chance_to_win == 0.5
    assert not result.ok
    assert_all_finite(result)
    assert chance_to_beat(0.1, 0.0) == 0.5
