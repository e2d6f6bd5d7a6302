"""The paired interval and sign-flip test against scipy on the same numbers; the gate."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from apps.stats.paired import gate, paired_difference, pass_share, sign_flip_p_value


@pytest.mark.parametrize("seed", range(5))
def test_the_interval_is_scipys_paired_t_interval(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    control = rng.integers(0, 4, n) / 3
    variant = rng.integers(0, 4, n) / 3
    got = paired_difference(list(control), list(variant), confidence=0.9)
    expected = sps.ttest_rel(variant, control).confidence_interval(0.9)
    assert got.lower == pytest.approx(expected.low) and got.upper == pytest.approx(expected.high)
    assert got.mean == pytest.approx(float(np.mean(variant - control)))


@pytest.mark.parametrize("n", [3, 7, 12])
def test_the_sign_flip_p_value_is_scipys_exact_paired_permutation_test(n):
    rng = np.random.default_rng(n)
    control, variant = rng.random(n), rng.random(n)
    expected = sps.permutation_test(
        (variant, control),
        lambda x, y: np.mean(x - y),
        permutation_type="samples",
        n_resamples=np.inf,
    ).pvalue
    assert sign_flip_p_value(list(variant - control)) == pytest.approx(expected)


def test_many_scenarios_sample_the_sign_patterns_repeatably():
    diffs = [0.1] * 30
    p = sign_flip_p_value(diffs)
    assert p == sign_flip_p_value(diffs) and 0 < p < 0.001  # all 30 the same way: 2^-29


def test_identical_arms_give_a_zero_width_interval_at_zero():
    got = paired_difference([1.0, 0.5, 0.0], [1.0, 0.5, 0.0])
    assert (got.mean, got.lower, got.upper) == (0.0, 0.0, 0.0) and got.sign_flip_p == 1.0


def test_one_scenario_gives_no_interval_and_the_gate_fails_closed():
    got = paired_difference([0.0], [1.0])
    assert got.mean == 1.0 and got.lower is None and gate(got, 0.05) == "failed"
    empty = paired_difference([], [])
    assert empty.scenarios == 0 and empty.mean is None and gate(empty, 0.05) == "failed"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, 1.5, 1e308])
def test_shares_outside_0_to_1_are_refused(bad):
    with pytest.raises(ValueError, match="finite number from 0 to 1"):
        paired_difference([0.5, bad], [0.5, 0.5])


def test_the_gate_compares_the_lower_end_with_the_margin():
    control = [1.0, 1.0, 1.0, 1.0]
    slightly_worse = paired_difference(control, [1.0, 1.0, 1.0, 2 / 3])
    assert slightly_worse.lower < -0.05
    assert gate(slightly_worse, 0.05) == "failed" and gate(slightly_worse, 0.5) == "passed"
    with pytest.raises(ValueError):
        gate(slightly_worse, math.nan)


def test_pass_share_counts_and_refuses_impossible_counts():
    assert pass_share(2, 3) == pytest.approx(2 / 3) and pass_share(0, 0) is None
    with pytest.raises(ValueError):
        pass_share(4, 3)


def test_unequal_arms_and_bad_confidence_are_refused():
    with pytest.raises(ValueError):
        paired_difference([0.5], [0.5, 0.5])
    with pytest.raises(ValueError):
        paired_difference([0.5, 0.5], [0.5, 0.5], confidence=1.0)
