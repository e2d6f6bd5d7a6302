"""Holm correction: adjusted p-values, Holm-consistent interval levels, several variants."""

import itertools

import pytest

from apps.stats.correction import (
    bh_adjust,
    bh_interval_alpha,
    compare_variants,
    compare_with_fdr,
    holm_adjust,
    holm_interval_alphas,
)
from apps.stats.types import Moments, ProportionStats


def test_holm_against_hand_computed_example():
    # Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06
    # by monotonicity). R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm")
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_handles_ties_and_empty():
    assert holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([0.02, 0.02]) == pytest.approx([0.04, 0.04])
    assert holm_adjust([]) == []
    assert holm_adjust([0.03]) == [0.03]


def test_holm_is_monotone_in_the_raw_p_values():
    raw = [0.001, 0.2, 0.012, 0.04, 0.013, 0.9]
    adjusted = holm_adjust(raw)
    pairs = sorted(zip(raw, adjusted, strict=True))
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(pairs))
    assert all(adj >= p for p, adj in zip(raw, adjusted, strict=True))


def test_interval_levels_match_the_holm_decision():
    # Holm rejects all three at 0.05 (adjusted 0.03, 0.04, 0.04); Bonferroni would not.
    raw = [0.01, 0.02, 0.04]
    levels = holm_interval_alphas(raw, 0.05)
    assert levels == pytest.approx([0.05 / 3, 0.025, 0.05])
    for p, level, adj in zip(raw, levels, holm_adjust(raw), strict=True):
        assert (p < level * (1 + 1e-12)) == (adj <= 0.05)
        assert 0.05 / 3 - 1e-15 <= level <= 0.05


def test_zero_p_value_uses_holm_step_threshold():
    assert holm_interval_alphas([0.0, 0.5], 0.05) == pytest.approx([0.025, 0.05])


def test_compare_variants_holm_can_withdraw_a_borderline_win():
    control = ProportionStats(4000, 800)
    variants = {"B": ProportionStats(4000, 925), "C": ProportionStats(4000, 800)}
    plain = compare_variants(control, variants, correction=False)
    holm = compare_variants(control, variants)
    assert plain[0].comparison.relative.ci_low > 0  # uncorrected: looks like a win
    assert holm[0].adjusted_p_value == pytest.approx(2 * holm[0].p_value)
    assert holm[0].interval_alpha == pytest.approx(0.025)
    assert holm[0].comparison.relative.ci_low < 0  # after Holm: not yet
    assert holm[1].adjusted_p_value == 1.0


def test_compare_variants_intervals_agree_with_adjusted_p_values():
    control = ProportionStats(3000, 600)
    counts = {"B": 690, "C": 700, "D": 640, "E": 720}
    variants = [(name, ProportionStats(3000, x)) for name, x in counts.items()]
    for method in ("sequential", "fixed"):
        for result in compare_variants(control, variants, method=method):
            excludes = result.comparison.relative.ci_low > 0
            assert excludes == (result.adjusted_p_value < 0.05), (method, result.name)


def test_compare_variants_rejects_unknown_method():
    with pytest.raises(ValueError):
        compare_variants(ProportionStats(10, 1), {"B": ProportionStats(10, 2)}, method="magic")


# Benjamini-Hochberg, for secondary metrics


@pytest.mark.parametrize("seed", range(6))
def test_bh_matches_scipy_false_discovery_control(seed):
    import numpy as np
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(seed)
    raw = np.concatenate([rng.uniform(0, 1, 8), rng.uniform(0, 0.01, 4), [0.0, 1.0, 0.02, 0.02]])
    rng.shuffle(raw)
    assert bh_adjust(list(raw)) == pytest.approx(list(false_discovery_control(raw, method="bh")))


def test_bh_edges_empty_one_ties_and_bad_p_values():
    assert bh_adjust([]) == []
    assert bh_adjust([0.04]) == [0.04]
    assert bh_adjust([0.02, 0.02, 0.02]) == pytest.approx([0.02, 0.02, 0.02])
    for bad in ([float("nan")], [-0.1], [1.5], [float("inf")]):
        with pytest.raises(ValueError, match="between 0 and 1"):
            bh_adjust(bad)


def test_bh_interval_level_is_alpha_times_discoveries_over_m():
    # BH at 0.05 over 4: adjusted 0.004, 0.02, 0.0267, 0.8 -> 3 discoveries -> 0.05 * 3 / 4
    raw = [0.001, 0.01, 0.02, 0.8]
    assert bh_interval_alpha(raw) == pytest.approx(0.0375)
    assert bh_interval_alpha([0.5, 0.9]) == pytest.approx(0.025)  # none: alpha / m
    assert bh_interval_alpha([]) == 0.05


def test_compare_with_fdr_intervals_agree_with_the_bh_decision():
    control = Moments(4000, 10.0, 25.0)
    pairs = [
        ("big", control, Moments(4000, 10.6, 25.0)),
        ("small", control, Moments(4000, 10.25, 25.0)),
        ("none", control, Moments(4000, 10.0, 25.0)),
        ("empty", control, Moments(0, 0.0, 0.0)),
    ]
    results = compare_with_fdr(pairs, 0.05, method="fixed")
    raw = [r.p_value for r in results]
    assert [r.adjusted_p_value for r in results] == pytest.approx(bh_adjust(raw))
    assert raw[3] == 1.0  # no data enters the family with p = 1
    for r in results:
        a = r.comparison.absolute
        if not a.ok:
            continue
        assert (a.ci_low > 0 or a.ci_high < 0) == (r.adjusted_p_value < 0.05), r.name
        assert r.interval_alpha == pytest.approx(bh_interval_alpha(raw))
    assert results[0].adjusted_p_value < 0.05 and results[2].adjusted_p_value > 0.05
