"""Property tests (hypothesis) for the comparison functions."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.stats.frequentist import fixed_horizon
from apps.stats.sequential import sequential
from apps.stats.types import MeanStats, ProportionStats

# No example database: the tests must not write outside tests/stats.
SETTINGS = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
TOL = 1e-9


@st.composite
def proportions(draw, min_n=0):
    n = draw(st.integers(min_value=min_n, max_value=20_000))
    return ProportionStats(n=n, successes=draw(st.integers(min_value=0, max_value=n)))


@st.composite
def means(draw, min_n=0):
    n = draw(st.integers(min_value=min_n, max_value=20_000))
    mean = draw(st.floats(min_value=-50, max_value=500, allow_nan=False))
    sd = draw(st.floats(min_value=0, max_value=200, allow_nan=False))
    return MeanStats(n=n, sum=n * mean, sum_squares=max(n - 1, 0) * sd**2 + n * mean**2)


def arm_pairs(min_n=0):
    return st.one_of(
        st.tuples(proportions(min_n), proportions(min_n)), st.tuples(means(min_n), means(min_n))
    )


def _contains(outer, inner):
    width = max(1.0, abs(outer.ci_low), abs(outer.ci_high))
    return (
        outer.ci_low <= inner.ci_low + TOL * width and inner.ci_high <= outer.ci_high + TOL * width
    )


@SETTINGS
@given(arm_pairs())
def test_swapping_arms_flips_the_absolute_lift(pair):
    a, b = pair
    for compare in (fixed_horizon, sequential):
        forward, backward = compare(a, b).absolute, compare(b, a).absolute
        assert forward.value == -backward.value
        assert forward.ci_low == -backward.ci_high or not forward.ok
        assert forward.p_value == backward.p_value


@SETTINGS
@given(arm_pairs(), st.sampled_from([0.01, 0.05, 0.1]))
def test_intervals_contain_the_point_estimate(pair, alpha):
    a, b = pair
    for compare in (fixed_horizon, sequential):
        result = compare(a, b, alpha=alpha)
        for est in (result.absolute, result.relative):
            assert est.ci_low <= est.value <= est.ci_high
            assert 0.0 <= est.p_value <= 1.0


@SETTINGS
@given(arm_pairs(min_n=30), st.sampled_from([0.01, 0.025, 0.05, 0.1]))
def test_sequential_interval_contains_the_fixed_one_from_30_calls(pair, alpha):
    a, b = pair
    fixed, seq = fixed_horizon(a, b, alpha=alpha), sequential(a, b, alpha=alpha)
    for outer, inner in ((seq.absolute, fixed.absolute), (seq.relative, fixed.relative)):
        assert outer.ok == inner.ok
        assert _contains(outer, inner)
        # Significant sequentially implies significant at the fixed horizon (not vice versa).
        if outer.p_value < alpha * (1 - 1e-9):
            assert inner.p_value < alpha
