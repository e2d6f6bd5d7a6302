import pytest
from scipy import stats as sps

from apps.stats.proportions import wilson_interval


def test_it_reproduces_the_textbook_example_8_of_10():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3.
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
        (29, 29, (0.8830, 1.0)),
    ],
)
def test_it_reproduces_newcombes_published_intervals(k, n, expected):
    low, high = wilson_interval(k, n)
    assert (round(low, 4), round(high, 4)) == expected


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 2), (3, 3), (7, 19), (50, 100), (999, 1000)])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_it_agrees_with_scipys_binomtest(k, n, alpha):
    expected = sps.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="wilson")
    assert wilson_interval(k, n, alpha) == pytest.approx((expected.low, expected.high), abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (2, 9), (5, 5), (40, 41)])
def test_it_is_symmetric_in_successes_and_failures(k, n):
    low, high = wilson_interval(k, n)
    mirrored_low, mirrored_high = wilson_interval(n - k, n)
    assert low == pytest.approx(1 - mirrored_high) and high == pytest.approx(1 - mirrored_low)


def test_it_stays_within_0_and_1_and_contains_the_observed_share():
    for n in range(1, 40):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0


def test_a_higher_confidence_gives_a_wider_range():
    narrow, wide = wilson_interval(8, 10, alpha=0.1), wilson_interval(8, 10, alpha=0.01)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


def test_no_trials_means_no_information():
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n", "alpha"), [(-1, 5, 0.05), (6, 5, 0.05), (1, 5, 0), (1, 5, 1)])
def test_it_refuses_impossible_input(k, n, alpha):
    with pytest.raises(ValueError):
        wilson_interval(k, n, alpha)
