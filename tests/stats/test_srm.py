"""Sample ratio mismatch (chi-square goodness of fit)."""

import pytest

from apps.stats.srm import srm_check


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
