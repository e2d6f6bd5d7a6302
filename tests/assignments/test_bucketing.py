"""The pure bucketing functions: stable forever, fair, and minimal when the split changes."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from apps.assignments.bucketing import (
    BUCKETS,
    bucket,
    choose,
    consecutive_layout,
    current_layout,
    fits,
    layout_bounds,
    relayout,
    upper_bounds,
)

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


# --- Layouts: which variant owns which bucket, moved as little as possible -----------------


def owners(layout) -> list[int]:
    """The variant id of each of the 10,000 buckets."""
    owned = [None] * BUCKETS
    for start, end, variant in layout:
        owned[start:end] = [variant] * (end - start)
    assert None not in owned
    return owned


@st.composite
def splits(draw, variants: int | None = None):
    """Whole-percent weights for variant ids 1..n (1 is the control), adding up to 100."""
    n = variants or draw(st.integers(2, 10))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1)))
    edges = [0, *cuts, 100]
    return {i + 1: edges[i + 1] - edges[i] for i in range(n)}


@st.composite
def histories(draw):
    """A layout reached through a few earlier changes of the split, and its weights."""
    weights = draw(splits())
    layout = consecutive_layout(weights)
    for _ in range(draw(st.integers(0, 4))):
        new = draw(splits(len(weights)))
        layout, weights = relayout(layout, weights, new), new
    return layout, weights


@given(histories(), st.data())
def test_relayout_gives_each_variant_exactly_its_weight(history, data):
    layout, old = history
    new = data.draw(splits(len(old)))
    after = relayout(layout, old, new)
    assert fits(after, new)
    assert Counter(owners(after)) == {v: w * 100 for v, w in new.items() if w}


@given(histories(), st.data())
def test_a_bucket_moves_only_from_a_variant_that_lost_to_one_that_gained(history, data):
    layout, old = history
    new = data.draw(splits(len(old)))
    for was, now in zip(owners(layout), owners(relayout(layout, old, new)), strict=True):
        assert was == now or (new[was] < old[was] and new[now] > old[now])


@given(histories(), st.data())
def test_relayout_moves_the_fewest_buckets_possible(history, data):
    layout, old = history
    new = data.draw(splits(len(old)))
    after = relayout(layout, old, new)
    moved = sum(a != b for a, b in zip(owners(layout), owners(after), strict=True))
    assert moved == sum(max(old[v] - new[v], 0) for v in old) * 100


@given(histories(), st.data())
def test_the_layout_stays_a_short_list_of_ranges(history, data):
    layout, old = history
    new = data.draw(splits(len(old)))
    changed = sum(old[v] != new[v] for v in old)
    assert len(relayout(layout, old, new)) <= len(layout) + changed


@given(histories(), st.data())
def test_pausing_a_variant_moves_only_its_buckets_and_only_to_the_control(history, data):
    layout, old = history
    paused = data.draw(st.sampled_from(sorted(old)[1:]))
    new = {**old, 1: old[1] + old[paused], paused: 0}
    for was, now in zip(owners(layout), owners(relayout(layout, old, new)), strict=True):
        assert was == now or (was == paused and now == 1)


@given(histories(), st.data())
def test_pause_then_resume_returns_to_the_same_split(history, data):
    layout, old = history
    paused = data.draw(st.sampled_from(sorted(old)[1:]))
    pause = {**old, 1: old[1] + old[paused], paused: 0}
    back = relayout(relayout(layout, old, pause), pause, old)
    assert Counter(owners(back)) == Counter(owners(layout))
    # Only buckets that were the control's or the paused variant's can have swapped.
    for was, now in zip(owners(layout), owners(back), strict=True):
        assert was == now or {was, now} == {1, paused}


@given(splits(), st.data())
def test_resuming_after_one_pause_gives_the_variant_its_own_buckets_back(weights, data):
    paused = data.draw(st.sampled_from(sorted(weights)[1:]))
    layout = consecutive_layout(weights)
    pause = {**weights, 1: weights[1] + weights[paused], paused: 0}
    assert relayout(relayout(layout, weights, pause), pause, weights) == layout


def test_pausing_c_at_34_33_33_sends_only_cs_buckets_to_the_control():
    split = {1: 34, 2: 33, 3: 33}
    layout = consecutive_layout(split)
    assert layout == ((0, 3400, 1), (3400, 6700, 2), (6700, 10000, 3))
    paused = relayout(layout, split, {1: 67, 2: 33, 3: 0})
    assert paused == ((0, 3400, 1), (3400, 6700, 2), (6700, 10000, 1))


def test_a_consecutive_layout_serves_the_same_split_as_upper_bounds():
    split = {7: 20, 8: 0, 9: 30, 10: 50}
    bounds, variants = layout_bounds(consecutive_layout(split))
    old_bounds = upper_bounds(list(split.values()))
    for b in range(0, BUCKETS, 7):
        assert variants[choose(b, bounds)] == list(split)[choose(b, old_bounds)]


def test_a_running_experiment_without_a_stored_layout_reads_as_consecutive_ranges():
    split = {1: 50, 2: 50}
    assert current_layout([], split) == consecutive_layout(split)
    assert current_layout([[0, 5000, 2], [5000, 10000, 1]], split) == (
        (0, 5000, 2),
        (5000, 10000, 1),
    )
    # A layout that no longer fits its weights is not served.
    assert current_layout([[0, 10000, 1]], split) == consecutive_layout(split)


def test_relayout_refuses_a_layout_that_does_not_match_the_old_weights():
    with pytest.raises(ValueError, match="does not match"):
        relayout(((0, 10000, 1),), {1: 50, 2: 50}, {1: 100, 2: 0})
    with pytest.raises(ValueError, match="add up to 90%"):
        relayout(((0, 10000, 1),), {1: 100}, {1: 90})
