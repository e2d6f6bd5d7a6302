import pytest
from scipy import integrate
from scipy.stats import beta

from apps.stats.thompson import probability_best, thompson_weights, whole_percents


def test_probability_best_matches_numerical_integration_for_two_arms():
    # P(B > A) for Beta posteriors, computed independently by quadrature.
    a, b = (1 + 20, 1 + 80), (1 + 30, 1 + 70)

    def integrand(x):
        return beta.pdf(x, *b) * beta.cdf(x, *a)

    exact, _ = integrate.quad(integrand, 0, 1)
    p = probability_best([20, 30], [100, 100], draws=200_000, seed=1)
    assert p[1] == pytest.approx(exact, abs=0.005)
    assert sum(p) == pytest.approx(1.0)


def test_weights_are_whole_percents_summing_to_100_with_a_floor():
    weights = thompson_weights([50, 200, 10], [1000, 1000, 1000], floor=0.01, seed=3)
    assert sum(weights) == 100 and min(weights) >= 1
    assert weights.index(max(weights)) == 1


def test_whole_percents_round_by_largest_remainder():
    assert whole_percents([1 / 3, 1 / 3, 1 / 3], floor=0) == [34, 33, 33]
    assert whole_percents([1.0, 0.0], floor=0.01) == [99, 1]


def test_a_floor_too_big_for_the_arms_is_refused():
    with pytest.raises(ValueError, match="no room"):
        whole_percents([0.5] * 101, floor=0.01)


def test_seeded_results_repeat():
    assert thompson_weights([5, 7], [50, 50], seed=9) == thompson_weights([5, 7], [50, 50], seed=9)
