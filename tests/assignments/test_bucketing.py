"""The pure bucketing functions: stable forever, fair, and minimal when a slider moves."""

from collections import Counter

import pytest
from scipy.stats import chisquare

from apps.assignments.bucketing import BUCKETS, bucket, choose, upper_bounds

# Computed once (and checked with `printf 'salt:unit' | sha256sum`); never to change, or
# every caller of every running experiment would silently switch variants.
GOLDEN = [
    ("a1b2c3d4e5f60718", "+15550100", 6524),
    ("a1b2c3d4e5f60718", "+15550101", 7959),
    ("salt", "caller-1", 6969),
    ("0000000000000000", "", 3839),
    ("deadbeefcafebabe", "call-42", 3173),
    ("deadbeefcafebabe", "Zoë ☎", 6080),
]


@pytest.mark.parametrize(("salt", "unit", "expected"), GOLDEN)
def test_bucket_matches_the_golden_vectors(salt, unit, expected):
    assert bucket(salt, unit) == expected


def test_upper_bounds_are_cumulative_in_hundredths_of_a_percent():
    assert upper_bounds([50, 50]) == (5000, 10000)
    assert upper_bounds([33, 33, 34]) == (3300, 6600, 10000)
    assert upper_bounds([100]) == (10000,)


def test_upper_bounds_refuse_weights_not_adding_to_100():
    with pytest.raises(ValueError, match="add up to 110%"):
        upper_bounds([70, 40])


def test_choose_maps_each_bucket_to_its_range():
    bounds = upper_bounds([20, 30, 50])
    assert [choose(b, bounds) for b in (0, 1999, 2000, 4999, 5000, 9999)] == [0, 0, 1, 1, 2, 2]


def test_a_paused_variant_owns_no_bucket():
    bounds = upper_bounds([60, 0, 40])
    assert {choose(b, bounds) for b in range(BUCKETS)} == {0, 2}


def test_the_observed_split_matches_the_weights_over_100000_callers():
    weights = [50, 30, 20]
    bounds = upper_bounds(weights)
    seen = Counter(
        choose(bucket("f00dfeed12345678", f"+1555{i:07d}"), bounds) for i in range(100_000)
    )
    observed = [seen[i] for i in range(3)]
    assert chisquare(observed, [100_000 * w / 100 for w in weights]).pvalue > 0.001


def test_moving_one_slider_moves_only_the_callers_in_the_range_that_changed_hands():
    callers = [f"caller-{i}" for i in range(20_000)]
    buckets = [bucket("0123456789abcdef", c) for c in callers]
    before = [choose(b, upper_bounds([50, 25, 25])) for b in buckets]
    after = [choose(b, upper_bounds([50, 30, 20])) for b in buckets]
    moved = [(x, y, b) for x, y, b in zip(before, after, buckets, strict=True) if x != y]
    # Only c -> b, and only callers in buckets 7500..7999, the range that changed hands.
    assert moved and all((x, y) == (2, 1) and 7500 <= b < 8000 for x, y, b in moved)
    share = len(moved) / len(callers)
    assert 0.04 < share < 0.06


def test_the_same_unit_lands_in_the_same_bucket_and_salts_reshuffle():
    assert bucket("s1", "+15550100") == bucket("s1", "+15550100")
    assert [bucket("s1", str(i)) for i in range(50)] != [bucket("s2", str(i)) for i in range(50)]
