"""Phases as strata (apps.stats.strata): exact on one phase, unbiased when the split and the
rate move together, checked against a direct numpy computation."""

import numpy as np
import pytest

from apps.stats.frequentist import absolute_lift
from apps.stats.strata import stratified
from apps.stats.types import Moments


def bernoulli(n, successes):
    p = successes / n
    return Moments(n, p, p * (1 - p) * n / (n - 1))


def test_one_phase_is_exactly_the_pooled_comparison():
    c, v = bernoulli(1000, 100), bernoulli(900, 120)
    assert stratified([(c, v)]) == (c, v)


def test_the_weighted_difference_and_its_standard_error_match_a_direct_computation():
    phases = [
        (bernoulli(2500, 250), bernoulli(2500, 262)),
        (bernoulli(1000, 150), bernoulli(9000, 1340)),
        (bernoulli(40, 3), bernoulli(3960, 410)),
    ]
    c, v = stratified(phases)
    value, se, _ = absolute_lift(c, v)
    n_c = np.array([p[0].n for p in phases], float)
    n_v = np.array([p[1].n for p in phases], float)
    m_c = np.array([p[0].mean for p in phases])
    m_v = np.array([p[1].mean for p in phases])
    var_c = np.array([p[0].variance for p in phases])
    var_v = np.array([p[1].variance for p in phases])
    w = n_c * n_v / (n_c + n_v)
    expected = np.sum(w * (m_v - m_c)) / w.sum()
    expected_se = np.sqrt(np.sum(w**2 * (var_c / n_c + var_v / n_v))) / w.sum()
    assert value == pytest.approx(expected, rel=1e-12)
    assert se == pytest.approx(expected_se, rel=1e-12)
    assert (c.n, v.n) == (3540, 15460)


def test_a_split_change_during_drift_biases_the_pooled_difference_not_the_stratified_one():
    """The issue's A/A: week 1 50/50 at 10%, week 2 10/90 at 15% (exact expected counts)."""
    week1 = (bernoulli(2500, 250), bernoulli(2500, 250))
    week2 = (bernoulli(1000, 150), bernoulli(9000, 1350))
    pooled_c = bernoulli(3500, 400)
    pooled_v = bernoulli(11500, 1600)
    assert pooled_v.mean / pooled_c.mean - 1 == pytest.approx(0.2174, abs=1e-3)  # "22% better"
    c, v = stratified([week1, week2])
    assert absolute_lift(c, v)[0] == pytest.approx(0.0, abs=1e-15)


def test_a_phase_where_an_arm_has_fewer_than_two_units_is_left_out():
    kept = (bernoulli(500, 50), bernoulli(500, 60))
    paused = (bernoulli(800, 80), Moments(0, 0.0, 0.0))
    assert stratified([kept, paused]) == kept
    assert stratified([paused]) == (Moments(0, 0.0, 0.0), Moments(0, 0.0, 0.0))
