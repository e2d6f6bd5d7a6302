"""The A/A segments benchmark (bench/aa_segments.py): its sums against a per-caller count in
plain Python, its ranges against the always-valid formula computed here, and its counting on
planted differences."""

from collections import defaultdict

import numpy as np
import pytest

from apps.stats.segments import compare_groups
from bench.aa_segments import (
    LOOKS,
    Scenario,
    draw,
    looks,
    page_groups,
    page_settings,
    run_chunk,
    scenarios,
    segment_calls,
    wilson,
)

THREE = (("a", 0.5), ("b", 0.3), ("c", 0.2))
SPLIT_CHANGE = Scenario(
    "segments-test",
    "test",
    THREE,
    rates=(0.05, 0.08),
    units_per_look=60,
    splits=((50, 50), (20, 80)),
    phase_from=(0, 40),
)


def _per_caller(calls, look: int) -> dict:
    """caller -> [group, arm, phase, conversions, calls] over the calls seen by `look`."""
    out = {}
    for i in range(calls["who"].size):
        if calls["look"][i] > look:
            continue
        where = [int(calls[k][i]) for k in ("group", "arm", "phase")]
        mine = out.setdefault(int(calls["who"][i]), [*where, 0, 0])
        assert mine[:3] == where  # a caller stays in the group, arm and phase of their first call
        mine[3] += int(calls["converted"][i])
        mine[4] += 1
    return out


@pytest.mark.parametrize("look", [0, 39, 40, 70, LOOKS - 1])
def test_the_sums_are_each_callers_calls_added_up(look):
    calls = segment_calls(np.random.default_rng(3), SPLIT_CHANGE)
    cum = draw(np.random.default_rng(3), SPLIT_CHANGE)
    expected = defaultdict(lambda: np.zeros(6))
    for group, arm, phase, num, den in _per_caller(calls, look).values():
        expected[(group, arm, phase)] += [1, num, num * num, den, den * den, num * den]
    assert sum(v[3] for v in expected.values()) > sum(v[0] for v in expected.values())
    for group in range(3):
        for arm in range(2):
            for phase in range(2):
                got = cum[look, group, arm, phase]
                assert got == pytest.approx(expected[(group, arm, phase)], abs=1e-9)


def test_repeat_callers_convert_at_the_base_rate_and_groups_get_their_shares():
    calls = segment_calls(np.random.default_rng(5), scenarios()[0])
    firsts = calls["first"]
    assert calls["converted"].mean() == pytest.approx(0.01, rel=0.1)
    assert (calls["who"].size / firsts.sum()) == pytest.approx(0.7 + 0.3 * 6.5, rel=0.05)
    shares = np.bincount(calls["group"][firsts], minlength=24) / firsts.sum()
    assert shares.min() == pytest.approx(0.0063, abs=0.001)
    assert shares.max() == pytest.approx(0.126, abs=0.005)


def _always_valid_range(calls, group: int, groups: int) -> tuple[float, float]:
    """The last look's range of the absolute change in one group, from the callers' sums:
    delta-method variance per arm, then the normal-mixture confidence sequence at alpha / k
    (Waudby-Smith et al. 2023, eq. 9 and 161; N* = 5000)."""
    means, variances, counts = [], [], []
    for arm in (0, 1):
        rows = [
            (num, den)
            for g, a, _, num, den in _per_caller(calls, LOOKS).values()
            if (g, a) == (group, arm)
        ]
        num, den = np.array(rows, dtype=float).T
        ratio = num.sum() / den.sum()
        cov = np.cov(num, den)  # n - 1
        mu = den.mean()
        var = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / mu**2
        means.append(ratio)
        variances.append(var / num.size)
        counts.append(num.size)
    alpha, n = 0.05 / groups, sum(counts)
    rho2 = (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / 5000
    s2 = sum(variances) * n
    half = np.sqrt(s2 * 2 * (n * rho2 + 1) * np.log(np.sqrt(n * rho2 + 1) / alpha) / (n * n * rho2))
    change = means[1] - means[0]
    return change - half, change + half


def test_the_last_look_reads_the_ranges_the_formula_gives():
    planted = Scenario("planted-range", "test", THREE, (0.05,), 200, lift=(0.5, 0.0, -0.3))
    calls = segment_calls(np.random.default_rng(11), planted)
    cum = draw(np.random.default_rng(11), planted)
    results = compare_groups(page_groups(planted, cum[-1].tolist()), 0.05, tuning=5000)
    for g in range(3):
        a = results[g][0].comparison.absolute
        assert (a.ci_low, a.ci_high) == pytest.approx(_always_valid_range(calls, g, 3), rel=1e-6)
    excluded, _ = looks(planted, cum, *page_settings())[-1]
    expected = any(
        lo > 0 or hi < 0 for lo, hi in (_always_valid_range(calls, g, 3) for g in range(3))
    )
    assert excluded == expected


@pytest.mark.parametrize("lift", [2.0, -0.9])
def test_a_planted_difference_in_one_group_is_counted_in_every_experiment(lift):
    planted = Scenario("planted-one", "test", THREE, (0.05,), 200, lift=(0.0, lift, 0.0))
    name, totals = run_chunk((planted, 0, 3))
    assert name == "planted-one"
    assert (totals["excluded"], totals["excluded_last"]) == (3, 3)
    assert totals["opposite"] == 0  # one direction only


def test_groups_planted_in_opposite_directions_raise_the_warning():
    planted = Scenario("planted-both", "test", THREE, (0.05,), 200, lift=(2.0, -0.9, 0.0))
    _, totals = run_chunk((planted, 0, 3))
    assert totals["excluded"] == totals["opposite"] == totals["opposite_last"] == 3


def test_an_a_a_with_no_clear_group_counts_nothing():
    a_a = Scenario("quiet", "test", THREE, (0.05,), 200)
    cum = draw(np.random.default_rng([1, 2]), a_a)
    flags = looks(a_a, cum, *page_settings())
    assert len(flags) == LOOKS
    _, totals = run_chunk((a_a, 0, 4))
    assert totals["excluded"] == totals["opposite"] == totals["excluded_last"] == 0


def test_the_page_settings_are_alpha_5_percent_and_n_star_5000():
    assert page_settings() == (0.05, 5000.0)


def test_wilson_interval_matches_the_score_formula():
    k, n, z = 10, 500, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson(k, n) == pytest.approx((centre - half, centre + half), rel=1e-9)
    assert wilson(0, 500)[0] == 0.0
