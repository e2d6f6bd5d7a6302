"""Sample ratio mismatch: the one-look chi-square and the anytime-valid sequential check.

The simulations are seeded A/A tests looked at 100 times each; the figures they measure are
in the assertion messages. A valid check at threshold 0.001 flags at most 0.1% of them at any
look (Ville's inequality); the bar here is 0.2% to leave room for simulation noise.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps

from apps.stats.srm import (
    DEFAULT_CONCENTRATION,
    SRM_THRESHOLD,
    PhaseCounts,
    log_bayes_factor,
    srm_check,
    srm_sequential,
    srm_sequential_check,
)

EXPERIMENTS = 2000
LOOKS = 100
LOG_BAR = math.log(1 / SRM_THRESHOLD)  # flagged when e >= 1 / threshold


# --- the one-look chi-square (unchanged) ---------------------------------------------------


def test_600_vs_400_at_50_50():
    result = srm_check([600, 400], [50, 50])
    assert result.chi2 == pytest.approx(40.0)
    assert result.dof == 1
    assert result.p_value == pytest.approx(2.5396e-10, rel=1e-4)
    assert result.flagged


def test_balanced_split_is_not_flagged():
    result = srm_check([5020, 4980], [50, 50])
    assert not result.flagged
    assert result.p_value == pytest.approx(0.6892, abs=1e-4)


def test_zero_weight_arms_are_excluded():
    with_paused = srm_check([600, 400, 37], [50, 50, 0])
    assert with_paused.chi2 == pytest.approx(40.0)
    assert with_paused.dof == 1


def test_uneven_weights_in_percent():
    # 20/30/50 split, observed exactly as expected
    assert srm_check([200, 300, 500], [20, 30, 50]).chi2 == pytest.approx(0.0)
    assert srm_check([200, 300, 500], [20, 30, 50]).dof == 2


def test_no_traffic_or_single_arm_is_not_an_error():
    assert srm_check([0, 0], [50, 50]).p_value == 1.0
    assert not srm_check([10], [100]).flagged


def test_threshold_is_one_in_a_thousand():
    # 5164 vs 4836: chi2 = 10.76, p = 0.00104 -> not flagged; 5170 vs 4830: p = 0.00067
    assert not srm_check([5164, 4836], [50, 50]).flagged
    assert srm_check([5170, 4830], [50, 50]).flagged
    assert not srm_check([5170, 4830], [50, 50], threshold=0.0005).flagged


# --- the Bayes factor against independent computations -------------------------------------


def test_bayes_factor_of_two_units_on_one_arm_is_four_thirds_by_hand():
    # alpha = (1, 1): BF = integral of t^2 dt / 0.5^2 = (1/3) / (1/4)
    assert math.exp(log_bayes_factor([2, 0], [0.5, 0.5], 2.0)) == pytest.approx(4 / 3)


def test_the_first_unit_never_moves_the_bayes_factor():
    # the prior mean is p0, so the predictive probability of any first unit is p0_i
    for arm in range(3):
        counts = [1 if i == arm else 0 for i in range(3)]
        assert log_bayes_factor(counts, [0.2, 0.3, 0.5], 7.0) == pytest.approx(0.0, abs=1e-12)


def test_two_arm_bayes_factor_matches_numeric_integration_over_the_beta_prior():
    x, p0, c = (7, 3), (0.3, 0.7), 5.0
    a, b = c * p0[0], c * p0[1]
    mixture, _ = integrate.quad(lambda t: t**7 * (1 - t) ** 3 * sps.beta.pdf(t, a, b), 0, 1)
    expected = mixture / (p0[0] ** 7 * p0[1] ** 3)
    assert math.exp(log_bayes_factor(x, p0, c)) == pytest.approx(expected, rel=1e-8)


def test_three_arm_bayes_factor_matches_numeric_integration_over_the_dirichlet_prior():
    x, p0, c = (4, 2, 1), (0.5, 0.3, 0.2), 6.0
    alpha = [c * p for p in p0]
    log_norm = math.lgamma(sum(alpha)) - sum(math.lgamma(a) for a in alpha)

    def integrand(t2, t1):
        t = (t1, t2, 1 - t1 - t2)
        prior = math.exp(
            log_norm + sum((a - 1) * math.log(ti) for a, ti in zip(alpha, t, strict=True))
        )
        return math.prod(ti**xi for ti, xi in zip(t, x, strict=True)) * prior

    mixture, _ = integrate.dblquad(integrand, 0, 1, 0, lambda t1: 1 - t1, epsabs=1e-13)
    expected = mixture / math.prod(p**xi for p, xi in zip(p0, x, strict=True))
    assert math.exp(log_bayes_factor(x, p0, c)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("x", "p0"),
    [((523, 477), (0.5, 0.5)), ((990, 3), (0.99, 0.01)), ((340, 310, 371), (0.34, 0.33, 0.33))],
)
def test_bayes_factor_is_the_ratio_of_scipys_dirichlet_multinomial_and_multinomial(x, p0):
    n, alpha = sum(x), [DEFAULT_CONCENTRATION * p for p in p0]
    expected = sps.dirichlet_multinomial.logpmf(x, alpha, n) - sps.multinomial.logpmf(x, n, p0)
    assert log_bayes_factor(x, p0) == pytest.approx(expected, rel=1e-9)


def test_bayes_factor_has_mean_one_under_the_configured_split():
    # what makes it a test martingale: E_H0[BF] = 1, summed over every outcome of 12 units
    p0, n = (0.2, 0.3, 0.5), 12
    outcomes = [(i, j, n - i - j) for i, j in itertools.product(range(n + 1), repeat=2)]
    outcomes = [x for x in outcomes if x[2] >= 0]
    mean = sum(
        sps.multinomial.pmf(x, n, p0) * math.exp(log_bayes_factor(x, p0, 3.0)) for x in outcomes
    )
    assert mean == pytest.approx(1.0, rel=1e-10)


# --- srm_sequential: phases, sums, edge cases ----------------------------------------------


def test_e_value_is_the_product_of_the_phases_bayes_factors():
    one, two = PhaseCounts((520, 480), (50, 50)), PhaseCounts((130, 870), (10, 90))
    result = srm_sequential([one, two])
    expected = log_bayes_factor([520, 480], [0.5, 0.5]) + log_bayes_factor([130, 870], [0.1, 0.9])
    assert math.log(result.e_value) == pytest.approx(expected)
    assert result.p_value == pytest.approx(min(1.0, math.exp(-expected)))


def test_observed_and_expected_are_summed_over_phases():
    result = srm_sequential([PhaseCounts((600, 400), (50, 50)), PhaseCounts((100, 900), (1, 9))])
    assert result.units == 2000
    assert result.observed == (700, 1300)
    assert result.expected == pytest.approx((600.0, 1400.0))


def test_weights_on_any_scale_give_the_same_answer():
    assert srm_sequential_check([530, 470], [50, 50]) == srm_sequential_check([530, 470], [1, 1])


def test_single_phase_interface_is_srm_sequential_with_one_phase():
    phase = PhaseCounts((300, 330, 370), (34, 33, 33))
    assert srm_sequential_check([300, 330, 370], [34, 33, 33]) == srm_sequential([phase])


def test_no_units_no_phases_or_one_active_arm_is_p_one():
    for result in (
        srm_sequential([]),
        srm_sequential_check([0, 0], [50, 50]),
        srm_sequential_check([800], [100]),
        srm_sequential_check([800, 0], [100, 0]),
    ):
        assert result.p_value == 1.0
        assert not result.flagged


def test_huge_evidence_is_capped_and_stays_finite():
    result = srm_sequential_check([1_000_000, 0], [50, 50])
    assert math.isfinite(result.e_value)
    assert 0 < result.p_value < 1e-300
    assert result.flagged


# --- power -------------------------------------------------------------------------------


def test_47_53_on_a_50_50_split_is_flagged_at_20000_units():
    assert srm_sequential_check([9400, 10600], [50, 50]).flagged
    rng = np.random.default_rng(47)
    counts = rng.multinomial(20_000, [0.47, 0.53], size=500)
    share = np.mean(log_bayes_factor(counts, [0.5, 0.5]) >= LOG_BAR)
    assert share == 1.0, f"47/53 flagged in {share:.1%} of 500 runs at 20,000 units"


def test_a_paused_arm_receiving_units_is_flagged():
    result = srm_sequential([PhaseCounts((500, 500), (50, 50)), PhaseCounts((510, 3), (100, 0))])
    assert result.flagged
    assert result.expected == pytest.approx((1013.0, 500.0))


def test_units_on_a_paused_arm_flag_even_with_one_active_arm():
    assert srm_sequential_check([800, 1], [100, 0]).flagged


def test_a_mismatch_in_the_second_phase_only_is_flagged():
    fine = PhaseCounts((5000, 5000), (50, 50))
    assert srm_sequential([fine, PhaseCounts((2400, 17600), (10, 90))]).flagged  # 12/88 true
    assert not srm_sequential([fine, PhaseCounts((2000, 18000), (10, 90))]).flagged
    rng = np.random.default_rng(12)
    second = rng.multinomial(20_000, [0.12, 0.88], size=500)
    first = log_bayes_factor(rng.multinomial(10_000, [0.5, 0.5], size=500), [0.5, 0.5])
    share = np.mean(first + log_bayes_factor(second, [0.1, 0.9]) >= LOG_BAR)
    assert share == 1.0, f"12/88 on 10/90 in phase 2 flagged in {share:.1%} of 500 runs"


# --- A/A at 100 looks: any-look false alarms -----------------------------------------------


def _looks(rng, p, step, looks=LOOKS):
    """Cumulative units per arm at each look: experiments x looks x arms."""
    return np.cumsum(rng.multinomial(step, p, size=(EXPERIMENTS, looks)), axis=1)


def _any_look_share(log_e):
    return float(np.mean((log_e >= LOG_BAR).any(axis=1)))


def test_a_a_50_50_flags_under_0_2_percent_of_2000_experiments_over_100_looks():
    p = [0.5, 0.5]
    share = _any_look_share(log_bayes_factor(_looks(np.random.default_rng(1), p, 100), p))
    assert share <= 0.002, f"50/50, looks every 100 units to 10,000: {share:.2%} flagged"


def test_a_a_99_1_from_50_units_flags_under_0_2_percent_where_chi_square_did_not():
    p = [0.99, 0.01]
    counts = _looks(np.random.default_rng(2), p, 50)  # looks at 50, 100, ..., 5,000 units
    share = _any_look_share(log_bayes_factor(counts, p))
    chi_share = float(np.mean((_chi_square_p(counts, p) < SRM_THRESHOLD).any(axis=1)))
    assert share <= 0.002, f"99/1 from 50 units: {share:.2%} flagged"
    # the old per-look chi-square on the same experiments, for contrast: why it was replaced
    assert chi_share > 0.01, f"chi-square at every look flagged {chi_share:.2%}"


def test_a_a_34_33_33_flags_under_0_2_percent_of_2000_experiments_over_100_looks():
    p = [0.34, 0.33, 0.33]
    share = _any_look_share(log_bayes_factor(_looks(np.random.default_rng(3), p, 100), p))
    assert share <= 0.002, f"34/33/33, looks every 100 units to 10,000: {share:.2%} flagged"


def test_a_a_split_change_from_50_50_to_10_90_flags_under_0_2_percent():
    rng = np.random.default_rng(4)
    first = log_bayes_factor(_looks(rng, [0.5, 0.5], 100, LOOKS // 2), [0.5, 0.5])
    second = log_bayes_factor(_looks(rng, [0.1, 0.9], 100, LOOKS // 2), [0.1, 0.9])
    share = _any_look_share(np.concatenate([first, first[:, -1:] + second], axis=1))
    assert share <= 0.002, f"50/50 then 10/90, 50 looks each: {share:.2%} flagged"


def test_a_a_100_hourly_phases_of_thompson_like_weights_flag_under_0_2_percent():
    rng = np.random.default_rng(5)
    weights = 0.01 + 0.97 * rng.dirichlet([0.5, 0.5, 0.5], size=(EXPERIMENTS, LOOKS))
    units = rng.integers(0, 201, size=(EXPERIMENTS, LOOKS))  # 0 to 200 new units an hour
    counts = rng.multinomial(units, weights)
    share = _any_look_share(np.cumsum(log_bayes_factor(counts, weights), axis=1))
    assert share <= 0.002, f"100 phases, 3 arms between 1% and 98%: {share:.2%} flagged"


def test_the_vectorised_simulation_agrees_with_srm_sequential():
    rng = np.random.default_rng(6)
    weights = 0.01 + 0.97 * rng.dirichlet([1, 1, 1], size=5)
    counts = rng.multinomial(rng.integers(0, 201, size=5), weights)
    phases = [
        PhaseCounts(tuple(map(int, c)), tuple(w * 100))
        for c, w in zip(counts, weights, strict=True)
    ]
    expected = np.sum(log_bayes_factor(counts, weights))
    assert math.log(srm_sequential(phases).e_value) == pytest.approx(expected)


def _chi_square_p(counts, p):
    expected = counts.sum(axis=-1, keepdims=True) * np.asarray(p)
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=-1)
    return sps.chi2.sf(chi2, len(p) - 1)


def test_vectorised_chi_square_is_srm_check():
    assert _chi_square_p(np.array([600, 400]), [0.5, 0.5]) == pytest.approx(
        srm_check([600, 400], [50, 50]).p_value
    )


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "weights", "message"),
    [
        ((10, 20), (50, 25, 25), "one weight per arm"),
        ((10, -1), (50, 50), "can't be negative"),
        ((10, 2.5), (50, 50), "whole numbers"),
        ((10, 20), (50, -50), "non-negative"),
        ((10, 20), (50, float("nan")), "finite"),
        ((10, 20), (50, float("inf")), "finite"),
    ],
)
def test_a_phase_refuses_bad_counts_or_weights(counts, weights, message):
    with pytest.raises(ValueError, match=message):
        PhaseCounts(counts, weights)


def test_phases_must_list_the_same_arms():
    with pytest.raises(ValueError, match="same arms"):
        srm_sequential([PhaseCounts((1, 2), (50, 50)), PhaseCounts((1, 2, 3), (1, 1, 1))])


def test_single_phase_interface_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one weight per arm"):
        srm_sequential_check([10, 20, 30], [50, 50])


@pytest.mark.parametrize("threshold", [0, 1, -0.1, float("nan")])
def test_refuses_a_threshold_outside_zero_to_one(threshold):
    with pytest.raises(ValueError, match="threshold"):
        srm_sequential([], threshold=threshold)


@pytest.mark.parametrize("concentration", [0, -1, float("inf"), float("nan")])
def test_refuses_a_concentration_that_is_not_positive(concentration):
    with pytest.raises(ValueError, match="concentration"):
        srm_sequential([], concentration=concentration)
