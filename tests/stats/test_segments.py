"""apps.stats.segments without a database: the Bonferroni-corrected ranges against SciPy on the
same data, and the opposite-directions rule."""

import math

import numpy as np
import pytest
from scipy import stats

from apps.stats.segments import Group, bonferroni_alpha, compare_groups, directions
from apps.stats.types import Moments


def _moments(x) -> Moments:
    x = np.asarray(x, dtype=float)
    return Moments(len(x), float(x.mean()), float(x.var(ddof=1)))


def _data(seed, shifts, n=300):
    rng = np.random.default_rng(seed)
    return [(rng.normal(10, 3, n), rng.normal(10 + s, 3, n + 17)) for s in shifts]


def _groups(data) -> list[Group]:
    return [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]


def test_bonferroni_divides_alpha_by_the_groups():
    assert bonferroni_alpha(0.05, 1) == 0.05
    assert bonferroni_alpha(0.05, 6) == pytest.approx(0.05 / 6)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            bonferroni_alpha(0.05, bad)
    for bad in (0.0, 1.0, math.nan, math.inf, -0.1):
        with pytest.raises(ValueError, match="alpha"):
            bonferroni_alpha(bad, 3)


@pytest.mark.parametrize("groups", [1, 2, 6, 24])
def test_fixed_ranges_match_scipy_welch_at_alpha_over_k(groups):
    data = _data(groups, [0.5 * (i % 3 - 1) for i in range(groups)])
    inputs = [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]
    results = compare_groups(inputs, 0.05, method="fixed")
    for (control, variant), [result] in zip(data, results, strict=True):
        want = stats.ttest_ind(variant, control, equal_var=False).confidence_interval(
            1 - 0.05 / groups
        )
        got = result.comparison.absolute
        assert (got.ci_low, got.ci_high) == pytest.approx((want.low, want.high), rel=1e-9)
        assert got.value == pytest.approx(variant.mean() - control.mean())


def test_more_groups_give_wider_ranges():
    control, variant = _data(7, [0.4])[0]
    one = Group("g", {0: _moments(control)}, [("B", {0: _moments(variant)})])
    width = []
    for k in (1, 4, 24):
        [result] = compare_groups([one] * k, 0.05)[0]
        width.append(result.comparison.absolute.ci_high - result.comparison.absolute.ci_low)
    assert width[0] < width[1] < width[2]


def test_sequential_ranges_cover_the_fixed_ones():
    """Always-valid ranges are wider than one-look ones at the same corrected level."""
    data = _data(3, [0.8, -0.8])
    inputs = [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]
    fixed = compare_groups(inputs, 0.05, method="fixed")
    seq = compare_groups(inputs, 0.05, method="sequential")
    for [f], [s] in zip(fixed, seq, strict=True):
        assert s.comparison.absolute.ci_low < f.comparison.absolute.ci_low
        assert s.comparison.absolute.ci_high > f.comparison.absolute.ci_high


def test_empty_arm_zero_variance_and_one_unit_are_not_enough_data():
    inputs = [
        Group("empty variant", {0: _moments([1, 0, 1, 1])}, [("B", {})]),
        Group("empty control", {}, [("B", {0: _moments([1, 0, 1])})]),
        Group("one unit", {0: Moments(1, 1.0, 0.0)}, [("B", {0: Moments(1, 0.0, 0.0)})]),
        Group("zero variance", {0: Moments(50, 1.0, 0.0)}, [("B", {0: Moments(50, 1.0, 0.0)})]),
    ]
    results = compare_groups(inputs, 0.05)
    for [result] in results[:3]:
        assert not result.comparison.absolute.ok
    for [result] in results:
        a = result.comparison.absolute
        assert all(math.isfinite(x) for x in (a.value, a.ci_low, a.ci_high))
    assert compare_groups([], 0.05) == []


def test_huge_values_stay_finite_or_are_not_ok():
    big = Moments(100, 1e300, 1e300)
    [[result]] = compare_groups([Group("huge", {0: big}, [("B", {0: big})])], 0.05)
    a = result.comparison.absolute
    assert not a.ok or all(math.isfinite(x) for x in (a.value, a.ci_low, a.ci_high))


def test_phases_are_combined_as_on_the_main_results():
    from apps.stats.strata import stratified

    (c1, v1), (c2, v2) = _data(11, [0.3, 0.3])
    group = Group(
        "g", {0: _moments(c1), 1: _moments(c2)}, [("B", {0: _moments(v1), 1: _moments(v2)})]
    )
    [[result]] = compare_groups([group], 0.05, method="fixed")
    control, variant = stratified([(_moments(c1), _moments(v1)), (_moments(c2), _moments(v2))])
    assert result.comparison.absolute.value == pytest.approx(variant.mean - control.mean)


def test_opposite_directions_need_corrected_ranges_on_both_sides_of_zero():
    data = _data(5, [2.0, -2.0, 0.0])
    inputs = [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]
    results = compare_groups(inputs, 0.05)
    d = directions(["up", "down", "flat"], [r[0] for r in results])
    assert d.opposite and not d.disagree
    assert d.above == ("up",) and d.below == ("down",)


def test_point_estimates_that_merely_disagree_get_the_softer_note():
    data = _data(9, [0.15, -0.15], n=200)
    inputs = [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]
    results = compare_groups(inputs, 0.05)
    values = [r[0].comparison.absolute.value for r in results]
    assert values[0] > 0 > values[1]  # the data do disagree in sign
    d = directions(["a", "b"], [r[0] for r in results])
    assert not d.opposite and d.disagree


def test_one_side_only_is_neither_opposite_nor_disagreeing():
    data = _data(4, [2.0, 1.5])
    inputs = [
        Group(f"g{i}", {0: _moments(c)}, [("B", {0: _moments(v)})]) for i, (c, v) in enumerate(data)
    ]
    d = directions(["a", "b"], [r[0] for r in compare_groups(inputs, 0.05)])
    assert not d.opposite and not d.disagree and d.above == ("a", "b")
