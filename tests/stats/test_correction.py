"""Holm correction: adjusted p-values, Holm-consistent interval levels, several variants."""

import itertools

import pytest

from apps.stats.correction import compare_variants, holm_adjust, holm_interval_alphas
from apps.stats.types import ProportionStats


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
