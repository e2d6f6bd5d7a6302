"""Plain-language sentences for verdicts, written for people who are not statisticians.

Words: "better"/"worse" follow the goal direction; the "95% range" is the lift's
sequential, Holm-consistent interval written as improvement (+ always means better,
whatever the direction); "very unlikely to be chance" means a Holm-adjusted always-valid
p-value below 0.001, "unlikely to be chance" below the family alpha.
"""

from __future__ import annotations

from collections.abc import Sequence

from .types import (
    GUARDRAIL,
    INCONCLUSIVE,
    LOSING,
    SRM,
    WINNING,
    Direction,
    VariantResult,
    improvement_interval,
)


def format_percent(fraction: float, signed: bool = False) -> str:
    """A fraction as a short percentage: 0.123 -> "12%", 0.045 -> "4.5%", signed "+4%".

    Whole percents from 10% up, one decimal below (trailing ".0" dropped).
    """
    value = fraction * 100.0
    text = f"{abs(value):.0f}" if abs(value) >= 9.95 else f"{abs(value):.1f}".removesuffix(".0")
    if text == "0":
        return "0%"
    sign = ("+" if value > 0 else "-") if signed else ("-" if value < 0 else "")
    return f"{sign}{text}%"


def _range_text(result: VariantResult, direction: Direction) -> str:
    low, high = improvement_interval(result.comparison, direction)
    level = format_percent(1.0 - result.family_alpha)
    return f"{level} range {format_percent(low, True)} to {format_percent(high, True)}"


def _chance_text(result: VariantResult) -> str:
    if result.adjusted_p_value < 0.001:
        return "This is very unlikely to be chance."
    return "This is unlikely to be chance."


def describe_variant(
    result: VariantResult,
    code: str,
    direction: Direction = "higher",
    calls_still_needed: int | None = None,
    metric_phrase: str = "performs",
    guardrail_labels: Sequence[str] = (),
) -> str:
    """One or two plain sentences for a variant's verdict, for people who aren't analysts.

    Example: "Variant B converts 12% better (95% range +4% to +20%). This is very unlikely
    to be chance. Safe to apply." The range is the Holm-consistent sequential interval of
    the lift, written as improvement (+ is always better, whatever the goal direction),
    labelled with the family confidence level 1 - alpha.
    """
    name, c = result.name, result.comparison
    size = format_percent(abs(c.relative.value))
    if code == SRM:
        return _SRM_SENTENCE
    if code == GUARDRAIL:
        worse = " and ".join(guardrail_labels) or "one of the safety checks"
        return f"{name} makes {worse} worse. Don't apply it, even if it looks better otherwise."
    if code == WINNING:
        return (
            f"{name} {metric_phrase} {size} better ({_range_text(result, direction)}). "
            f"{_chance_text(result)} Safe to apply."
        )
    if code == LOSING:
        return (
            f"{name} {metric_phrase} {size} worse ({_range_text(result, direction)}). "
            f"{_chance_text(result)} Keep the current prompt."
        )
    if code == INCONCLUSIVE:
        return (
            f"{name} and the current prompt perform about the same "
            f"({_range_text(result, direction)}). The planned number of calls is reached, "
            "so any difference is probably too small to matter."
        )
    return _not_yet_sentence(result, direction, calls_still_needed)


def _not_yet_sentence(result: VariantResult, direction, need: int | None) -> str:
    if result.comparison.relative.ok:
        head = f"No clear difference yet between {result.name} and the current prompt"
        head += f" ({_range_text(result, direction)})."
    else:
        head = f"Not enough calls yet to compare {result.name} with the current prompt."
    if need:
        return f"{head} About {need:,} more calls per version are needed."
    return f"{head} Keep the test running."


_SRM_SENTENCE = (
    "The calls were not split between the versions as planned, so these results can't be "
    "trusted. Check the traffic split before acting on any numbers."
)


def describe_experiment(code: str, verdicts: Sequence, best: VariantResult | None = None) -> str:
    """One plain sentence (or two) for the whole experiment's verdict code.

    ``verdicts`` are :class:`apps.stats.verdict.VariantVerdict` objects. Reuses the best
    winner's or the single variant's sentence where that says it all.
    """
    if code == SRM:
        return _SRM_SENTENCE
    chosen = [v for v in verdicts if v.code == code]
    if code == WINNING and best is not None:
        return next(v.sentence for v in verdicts if v.name == best.name)
    if len(verdicts) == 1 or code == GUARDRAIL:
        return chosen[0].sentence if chosen else verdicts[0].sentence
    if code == LOSING:
        return "Every new version does worse than the current prompt. Keep the current prompt."
    if code == INCONCLUSIVE:
        return (
            "The planned number of calls is reached and no version clearly differs from the "
            "current prompt. Keep the current prompt, or test a bolder change."
        )
    needs = [v.calls_still_needed for v in verdicts if v.calls_still_needed]
    more = f" About {max(needs):,} more calls per version are needed." if needs else ""
    return f"No clear winner yet.{more or ' Keep the test running.'}"
