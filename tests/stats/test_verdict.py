"""Verdict codes and plain-language sentences."""

import pytest

from apps.stats.correction import compare_variants
from apps.stats.sentences import format_percent
from apps.stats.types import MeanStats, ProportionStats
from apps.stats.verdict import (
    GUARDRAIL,
    INCONCLUSIVE,
    LOSING,
    NO_DIFFERENCE_YET,
    SRM,
    WINNING,
    calls_still_needed,
    decide,
    experiment_code,
    is_significantly_worse,
)
from tests.stats.helpers import assert_all_finite

CONTROL = ProportionStats(5000, 1000)  # 20%
BETTER = ProportionStats(5000, 1300)  # 26%: +30%
WORSE = ProportionStats(5000, 800)  # 16%: -20%
SAME = ProportionStats(5000, 1010)


def _decide(variants, **kwargs):
    return decide(compare_variants(CONTROL, variants), **kwargs)


def test_clear_winner_reads_plainly():
    verdict = _decide({"Variant B": BETTER}, metric_phrase="converts")
    assert verdict.code == WINNING
    assert verdict.best == "Variant B"
    sentence = verdict.variants[0].sentence
    assert sentence.startswith("Variant B converts 30% better (95% range +")
    assert sentence.endswith("This is very unlikely to be chance. Safe to apply.")
    assert verdict.sentence == sentence
    assert verdict.variants[0].calls_still_needed is None


def test_clear_loser():
    verdict = _decide({"B": WORSE})
    assert verdict.code == LOSING
    assert "20% worse" in verdict.sentence
    assert "Keep the current prompt." in verdict.sentence


def test_lower_is_better_turns_the_same_numbers_around():
    assert _decide({"B": WORSE}, direction="lower").code == WINNING
    assert _decide({"B": BETTER}, direction="lower").code == LOSING


def test_lower_is_better_with_durations():
    control = MeanStats(n=2000, sum=2000 * 180.0, sum_squares=2000 * (180.0**2 + 60.0**2))
    shorter = MeanStats(n=2000, sum=2000 * 165.0, sum_squares=2000 * (165.0**2 + 60.0**2))
    verdict = decide(compare_variants(control, {"B": shorter}), direction="lower")
    assert verdict.code == WINNING
    assert "8.3% better" in verdict.sentence


def test_srm_overrides_everything():
    verdict = _decide({"B": BETTER}, srm=True)
    assert verdict.code == SRM
    assert verdict.variants[0].code == SRM
    assert "not split" in verdict.sentence


def test_guardrail_blocks_a_winner():
    verdict = _decide({"B": BETTER}, guardrails_worse={"B": ["transfer rate"]})
    assert verdict.code == GUARDRAIL
    assert verdict.sentence.startswith("B makes transfer rate worse.")


def test_guardrail_helper_uses_the_interval():
    [worse] = compare_variants(CONTROL, {"B": WORSE})
    assert is_significantly_worse(worse.comparison, "higher")
    assert not is_significantly_worse(worse.comparison, "lower")


def test_minimum_calls_per_arm():
    control, variant = ProportionStats(60, 10), ProportionStats(60, 40)
    verdict = decide(compare_variants(control, {"B": variant}))
    assert verdict.code == NO_DIFFERENCE_YET
    assert verdict.variants[0].calls_still_needed == 40
    assert "About 40 more calls per version are needed." in verdict.sentence


def test_every_arm_needs_the_minimum():
    results = compare_variants(CONTROL, {"B": BETTER, "C": ProportionStats(50, 10)})
    assert decide(results).variants[0].code == NO_DIFFERENCE_YET
    assert decide(results, min_calls_per_arm=50).variants[0].code == WINNING


def test_no_difference_yet_with_a_plan():
    verdict = _decide({"B": SAME}, planned_calls_per_arm=8000)
    assert verdict.code == NO_DIFFERENCE_YET
    assert verdict.variants[0].calls_still_needed == 3000
    assert "No clear difference yet" in verdict.sentence
    assert "3,000 more calls" in verdict.sentence


def test_no_difference_yet_without_a_plan():
    verdict = _decide({"B": SAME})
    assert verdict.variants[0].calls_still_needed is None
    assert verdict.sentence.endswith("Keep the test running.")


def test_inconclusive_when_the_plan_is_reached():
    verdict = _decide({"B": SAME}, planned_calls_per_arm=5000)
    assert verdict.code == INCONCLUSIVE
    assert "about the same" in verdict.sentence


def test_holm_withdraws_a_borderline_win():
    control = ProportionStats(4000, 800)
    variants = {"B": ProportionStats(4000, 925), "C": ProportionStats(4000, 800)}
    assert decide(compare_variants(control, variants, correction=False)).code == WINNING
    assert decide(compare_variants(control, variants)).code == NO_DIFFERENCE_YET


def test_best_of_two_winners():
    verdict = _decide({"B": ProportionStats(5000, 1200), "C": BETTER})
    assert verdict.code == WINNING
    assert verdict.best == "C"


def test_not_enough_data_is_not_yet():
    results = compare_variants(ProportionStats(0, 0), {"B": ProportionStats(0, 0)})
    assert_all_finite(results)
    verdict = decide(results)
    assert verdict.code == NO_DIFFERENCE_YET
    assert "Not enough calls yet" in verdict.sentence
    assert verdict.variants[0].calls_still_needed == 100


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([LOSING, WINNING], WINNING),
        ([GUARDRAIL, NO_DIFFERENCE_YET], GUARDRAIL),
        ([LOSING, LOSING], LOSING),
        ([LOSING, INCONCLUSIVE], INCONCLUSIVE),
        ([INCONCLUSIVE, NO_DIFFERENCE_YET], NO_DIFFERENCE_YET),
        ([], NO_DIFFERENCE_YET),
    ],
)
def test_experiment_code_priority(codes, expected):
    assert experiment_code(codes) == expected


def test_calls_still_needed():
    assert calls_still_needed(900, 950, 100, 1030) == 130
    assert calls_still_needed(1200, 1100, 100, 1030) == 0
    assert calls_still_needed(1200, 1100, 100, None) is None
    assert calls_still_needed(20, 70, 100, None) == 80


def test_format_percent():
    assert format_percent(0.123) == "12%"
    assert format_percent(0.045) == "4.5%"
    assert format_percent(0.04, signed=True) == "+4%"
    assert format_percent(-0.2, signed=True) == "-20%"
    assert format_percent(0.00001, signed=True) == "0%"


def test_unknown_direction_is_rejected():
    with pytest.raises(ValueError):
        _decide({"B": BETTER}, direction="up")


# Each metric on its own scale; guardrails shown safe (issue 11, items 5, 6, 8) -------------


def _sentiment(n, mean, sd=0.5):
    return MeanStats(n, n * mean, (n - 1) * sd * sd + n * mean * mean)


@pytest.mark.parametrize("shift", [0.0, -0.5])
def test_a_guardrail_check_does_not_depend_on_the_sign_of_the_control_mean(shift):
    from apps.stats.verdict import guardrail_check

    results = compare_variants(
        _sentiment(5000, 0.30 + shift), {"B": _sentiment(5000, 0.20 + shift)}, scale="absolute"
    )
    check = guardrail_check(results[0], "higher", "sentiment", 0.03)
    assert check.worse and check.worse_by == pytest.approx(0.10) and not check.shown_safe


def test_a_guardrail_is_shown_safe_only_when_its_range_excludes_the_threshold():
    from apps.stats.verdict import guardrail_check

    same = compare_variants(_sentiment(20000, 0.1), {"B": _sentiment(20000, 0.1)}, scale="absolute")
    check = guardrail_check(same[0], "higher", "sentiment", 0.03)
    assert check.shown_safe and 0 < check.worst < 0.03
    few = compare_variants(_sentiment(500, 0.1), {"B": _sentiment(500, 0.1)}, scale="absolute")
    assert not guardrail_check(few[0], "higher", "sentiment", 0.03).shown_safe


def test_a_winner_with_an_unproven_guardrail_is_pending_not_winning():
    from apps.stats.verdict import GUARDRAIL_PENDING

    results = compare_variants(CONTROL, {"Variant B": BETTER}, scale="absolute")
    verdict = decide(
        results, guardrails_unproven={"Variant B": ["transfer rate"]}, metric="conversion"
    )
    assert verdict.code == GUARDRAIL_PENDING and verdict.best is None
    assert verdict.sentence.startswith("Variant B performs 6 percentage points better (30% higher")
    assert verdict.sentence.endswith(
        "Wait: its transfer rate is not yet shown to be no worse. "
        "Keep the test running before applying it."
    )
    assert experiment_code([GUARDRAIL_PENDING, WINNING]) == WINNING
    assert experiment_code([GUARDRAIL_PENDING, GUARDRAIL]) == GUARDRAIL_PENDING
