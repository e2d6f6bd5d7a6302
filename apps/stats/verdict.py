"""Verdicts: turn Holm-corrected sequential comparisons into a decision and plain words.

Rules (per variant, first match wins):
1. ``srm``: the traffic split is off (sample ratio mismatch), so nothing can be trusted.
2. ``guardrail``: a guardrail metric is significantly worse for this variant.
3. ``no_difference_yet``: some arm has fewer than ``min_calls_per_arm`` calls, or the data
   can't be analysed yet (n < 2, no variation, control mean 0).
4. ``winning`` / ``losing``: the lift interval (sequential, Holm-consistent level, see
   :mod:`apps.stats.correction`) excludes 0 on the good / bad side.
5. ``inconclusive``: the planned calls per arm are reached and the interval contains 0.
6. ``no_difference_yet`` otherwise, with the calls per version still needed when a plan
   is given.
Experiment: ``srm`` > ``winning`` (any variant) > ``guardrail`` (any) > ``losing`` (all)
> ``no_difference_yet`` (any) > ``inconclusive``.

Lift is (variant - control) / control; the direction only picks the good side (and a
negative control mean flips it, see :func:`apps.stats.types.good_sign`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .sentences import describe_experiment, describe_variant
from .types import (
    CODES,
    GUARDRAIL,
    INCONCLUSIVE,
    LOSING,
    NO_DIFFERENCE_YET,
    SRM,
    WINNING,
    Comparison,
    Direction,
    VariantResult,
    check_direction,
    good_sign,
    improvement_interval,
)

__all__ = [
    "CODES",
    "GUARDRAIL",
    "INCONCLUSIVE",
    "LOSING",
    "NO_DIFFERENCE_YET",
    "SRM",
    "WINNING",
    "ExperimentVerdict",
    "VariantVerdict",
    "calls_still_needed",
    "decide",
    "experiment_code",
    "improvement_interval",
    "is_significantly_worse",
    "variant_code",
]


@dataclass(frozen=True)
class VariantVerdict:
    """Verdict for one variant; ``calls_still_needed`` is per version (None if unknown)."""

    name: str
    code: str
    calls_still_needed: int | None
    sentence: str


@dataclass(frozen=True)
class ExperimentVerdict:
    """Verdict for the experiment, the per-variant verdicts and the best winner (if any)."""

    code: str
    variants: tuple[VariantVerdict, ...]
    best: str | None
    sentence: str


def is_significantly_worse(comparison: Comparison, direction: Direction) -> bool:
    """Guardrail check: True when the lift interval lies entirely on the bad side of 0.

    Method: :func:`improvement_interval` high end < 0. Pass a sequential (always-valid)
    comparison so that watching guardrails continuously stays honest.
    """
    return comparison.relative.ok and improvement_interval(comparison, direction)[1] < 0


def calls_still_needed(
    n_control: int, n_variant: int, min_calls: int, planned: int | None
) -> int | None:
    """Calls per version still needed: to the plan (if any) and to the minimum per arm.

    Method: max(planned or 0, min_calls) - min(n_control, n_variant), floored at 0. None
    when there is no plan and the minimum is already met (the need is then unknown).
    """
    target = max(planned or 0, min_calls)
    short = max(0, target - min(n_control, n_variant))
    if planned is None and short == 0:
        return None
    return short


def _arm_counts(results: Sequence[VariantResult], arm_calls: Mapping[str, int] | None):
    counts = {"control": results[0].comparison.control.n} if results else {}
    counts.update({r.name: r.comparison.variant.n for r in results})
    counts.update(arm_calls or {})
    return counts


def _guardrail_labels(flag: bool | str | Sequence[str] | None) -> tuple[str, ...]:
    """() when the guardrails are fine; the labels (or one generic label) when one is worse."""
    if isinstance(flag, str):
        return (flag,)
    if isinstance(flag, bool) or flag is None:
        return ("one of the safety checks",) if flag else ()
    return tuple(str(label) for label in flag)


def variant_code(
    result: VariantResult,
    direction: Direction,
    *,
    enough_calls: bool,
    srm: bool = False,
    guardrail: bool = False,
    planned: int | None = None,
) -> str:
    """Verdict code for one variant by the rules of the module docstring (rules 1-6).

    ``enough_calls`` says whether every arm has the minimum calls; ``planned`` is the
    planned calls per arm. Assumes ``result`` comes from
    :func:`apps.stats.correction.compare_variants` (sequential, Holm-consistent intervals).
    """
    c = result.comparison
    if srm:
        return SRM
    if guardrail:
        return GUARDRAIL
    if not enough_calls or not c.relative.ok:
        return NO_DIFFERENCE_YET
    low, high = improvement_interval(c, direction)
    if low > 0:
        return WINNING
    if high < 0:
        return LOSING
    if planned is not None and min(c.control.n, c.variant.n) >= planned:
        return INCONCLUSIVE
    return NO_DIFFERENCE_YET


def experiment_code(codes: Sequence[str]) -> str:
    """Experiment-level code from the variants' codes (priority in the module docstring)."""
    if not codes:
        return NO_DIFFERENCE_YET
    for code in (SRM, WINNING, GUARDRAIL):
        if code in codes:
            return code
    if all(code == LOSING for code in codes):
        return LOSING
    return NO_DIFFERENCE_YET if NO_DIFFERENCE_YET in codes else INCONCLUSIVE


def decide(
    results: Sequence[VariantResult],
    direction: Direction = "higher",
    *,
    min_calls_per_arm: int = 100,
    srm: bool = False,
    guardrails_worse: Mapping[str, bool | str | Sequence[str]] | None = None,
    planned_calls_per_arm: int | None = None,
    arm_calls: Mapping[str, int] | None = None,
    metric_phrase: str = "performs",
) -> ExperimentVerdict:
    """Verdict per variant and for the experiment, with plain-language sentences.

    Method: :func:`variant_code` per variant and :func:`experiment_code` (module docstring).
    ``guardrails_worse`` maps a variant name to True or to the labels of guardrails that are
    significantly worse (see :func:`is_significantly_worse`). ``arm_calls`` overrides the
    per-arm counts (key "control" for the control), e.g. calls when the unit is the caller.
    """
    check_direction(direction)
    counts = _arm_counts(results, arm_calls)
    enough = all(n >= min_calls_per_arm for n in counts.values())
    flags = guardrails_worse or {}
    verdicts = tuple(
        _variant_verdict(
            r,
            direction,
            enough,
            srm,
            _guardrail_labels(flags.get(r.name)),
            (min_calls_per_arm, planned_calls_per_arm),
            metric_phrase,
        )
        for r in results
    )
    return _experiment(results, verdicts, direction)


def _variant_verdict(r, direction, enough, srm, labels, plan, metric_phrase) -> VariantVerdict:
    min_calls, planned = plan
    code = variant_code(
        r, direction, enough_calls=enough, srm=srm, guardrail=bool(labels), planned=planned
    )
    need = None
    if code == NO_DIFFERENCE_YET:
        c = r.comparison
        need = calls_still_needed(c.control.n, c.variant.n, min_calls, planned)
    text = describe_variant(r, code, direction, need, metric_phrase, labels)
    return VariantVerdict(r.name, code, need, text)


def _experiment(results, verdicts: tuple[VariantVerdict, ...], direction) -> ExperimentVerdict:
    code = experiment_code([v.code for v in verdicts])
    winners = [r for r, v in zip(results, verdicts, strict=True) if v.code == WINNING]
    best = max(winners, key=lambda r: _improvement(r.comparison, direction), default=None)
    return ExperimentVerdict(
        code, verdicts, best.name if best else None, describe_experiment(code, verdicts, best)
    )


def _improvement(comparison: Comparison, direction: Direction) -> float:
    return good_sign(direction, comparison.control.mean) * comparison.relative.value
