"""Plain-language sentences for verdicts, written for people who are not statisticians.

Words: "better"/"worse" follow the goal direction; the "95% range" is the lift's
sequential, Holm-consistent interval written as improvement (+ always means better,
whatever the direction). Given the goal ``metric``, an absolute-scale result is written in
the metric's own unit (:mod:`apps.stats.scales`): rates in percentage points with the
relative change beside, sentiment in points, durations in seconds. "Very unlikely to be
chance" means a Holm-adjusted always-valid p-value below 0.001, "unlikely to be chance"
below the family alpha.
"""

from __future__ import annotations

from collections.abc import Sequence

from .scales import change_name, format_change, shows_relative
from .types import (
    CHANGED,
    GUARDRAIL,
    GUARDRAIL_PENDING,
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


def _range_text(result: VariantResult, direction: Direction, metric: str | None = None) -> str:
    low, high = improvement_interval(result.comparison, direction, result.scale)
    level = format_percent(1.0 - result.family_alpha)
    if result.scale == "absolute":
        low_text = format_change(low, metric, signed=True, unit=False)
        return f"{level} range {low_text} to {format_change(high, metric, signed=True)}"
    return f"{level} range {format_percent(low, True)} to {format_percent(high, True)}"


def _size_text(result: VariantResult, metric: str | None) -> str:
    """ "2.1 percentage points" (absolute scale) or "12%" (relative scale)."""
    c = result.comparison
    if result.scale != "absolute":
        return format_percent(abs(c.relative.value))
    if change_name(metric) in ("dollars", "per call"):  # "$0.012", "0.3 per call"
        return format_change(abs(c.absolute.value), metric)
    return f"{format_change(abs(c.absolute.value), metric, unit=False)} {change_name(metric)}"


def _beside(result: VariantResult, metric: str | None) -> str:
    """The relative change beside an absolute one, where it means something: "21% higher
    than now; " (nothing for sentiment, whose mean can be 0 or negative)."""
    c = result.comparison
    if result.scale != "absolute" or not shows_relative(metric) or not c.relative.ok:
        return ""
    word = "higher" if c.relative.value > 0 else "lower"
    if metric == "duration":
        word = "longer" if c.relative.value > 0 else "shorter"
    return f"{format_percent(abs(c.relative.value))} {word} than now; "


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
    metric: str | None = None,
) -> str:
    """One or two plain sentences for a variant's verdict, for people who aren't analysts.

    Example: "Variant B converts 12% better (95% range +4% to +20%). This is very unlikely
    to be chance. Safe to apply." The range is the Holm-consistent sequential interval of
    the lift, written as improvement (+ is always better, whatever the goal direction),
    labelled with the family confidence level 1 - alpha. On the absolute scale with the goal
    ``metric`` given: "Variant B converts 2.1 percentage points better (21% higher than now;
    95% range +0.5 to +3.7 points)". ``guardrail_pending``: the winner's sentence ends
    "Wait: its transfer rate is not yet shown to be no worse." instead of "Safe to apply."
    """
    name = result.name
    size = _size_text(result, metric)
    ranged = f"{_beside(result, metric)}{_range_text(result, direction, metric)}"
    if code == SRM:
        return _SRM_SENTENCE
    if code == GUARDRAIL:
        worse = " and ".join(guardrail_labels) or "one of the safety checks"
        return f"{name} makes {worse} worse. Don't apply it, even if it looks better otherwise."
    if code == WINNING:
        return (
            f"{name} {metric_phrase} {size} better ({ranged}). "
            f"{_chance_text(result)} Safe to apply."
        )
    if code == GUARDRAIL_PENDING:
        unproven = " and ".join(guardrail_labels) or "one of the safety checks"
        verb = "are" if len(guardrail_labels) > 1 else "is"
        return (
            f"{name} {metric_phrase} {size} better ({ranged}). Wait: its {unproven} {verb} "
            "not yet shown to be no worse. Keep the test running before applying it."
        )
    if code == LOSING:
        return (
            f"{name} {metric_phrase} {size} worse ({ranged}). "
            f"{_chance_text(result)} Keep the current prompt."
        )
    if code == CHANGED:
        return (
            f"The difference between {name} and the current prompt changed over time: no "
            "single change fits all the calls so far, so there is no verdict to trust. "
            "Look at the chart by date before deciding; consider a new test."
        )
    if code == INCONCLUSIVE:
        return (
            f"{name} and the current prompt perform about the same "
            f"({_range_text(result, direction, metric)}). The planned number of calls is "
            "reached, so any difference is probably too small to matter."
        )
    return _not_yet_sentence(result, direction, calls_still_needed, metric)


def _not_yet_sentence(result: VariantResult, direction, need: int | None, metric=None) -> str:
    if result.estimate.ok:
        head = f"No clear difference yet between {result.name} and the current prompt"
        head += f" ({_range_text(result, direction, metric)})."
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
    if code == CHANGED and len(chosen) == 1:
        return chosen[0].sentence
    if code == CHANGED:
        return (
            "The difference between some versions and the current prompt changed over time, "
            "so there is no verdict to trust. Look at the chart by date; consider a new test."
        )
    if code == GUARDRAIL_PENDING and len(chosen) == 1:
        return chosen[0].sentence
    if code == GUARDRAIL_PENDING:
        return (
            "Some versions do better, but none is yet shown to keep every guardrail safe. "
            "Keep the test running before applying one."
        )
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
