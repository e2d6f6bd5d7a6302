"""Verdicts: turn Holm-corrected sequential comparisons into a decision and plain words.

Rules (per variant, first match wins):
1. ``srm``: the traffic split is off (sample ratio mismatch), so nothing can be trusted.
2. ``guardrail``: a guardrail metric is significantly worse for this variant.
3. ``no_difference_yet``: some arm has fewer than ``min_calls_per_arm`` calls, or the data
   can't be analysed yet (n < 2, no variation, control mean 0).
4. ``winning`` / ``losing``: the lift interval (sequential, Holm-consistent level, see
   :mod:`apps.stats.correction`) excludes 0 on the good / bad side. A would-be winner
   whose guardrails are not all shown safe (:func:`guardrail_check`) is
   ``guardrail_pending`` instead: better on the goal, but not yet safe to apply.
   The interval is the running intersection of every look's (:func:`running_range`);
   ``changed`` when that intersection is empty (no single change fits every look).
5. ``inconclusive``: the planned calls per arm are reached and the interval contains 0.
6. ``no_difference_yet`` otherwise, with the calls per version still needed when a plan
   is given.
Experiment: ``srm`` > ``winning`` (any variant) > ``guardrail_pending`` (any) >
``guardrail`` (any) > ``changed`` (any) > ``losing`` (all) > ``no_difference_yet`` (any) >
``inconclusive``.

The lift is on the scale of the results (``VariantResult.scale``): absolute, variant -
control, as the results page uses (see :mod:`apps.stats.scales`), or relative, (variant -
control) / control; the direction only picks the good side (on the relative scale a
negative control mean flips it, see :func:`apps.stats.types.good_sign`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .scales import threshold_in_units
from .sentences import describe_experiment, describe_variant
from .types import (
    CHANGED,
    CODES,
    GUARDRAIL,
    GUARDRAIL_PENDING,
    INCONCLUSIVE,
    LOSING,
    NO_DIFFERENCE_YET,
    SRM,
    WINNING,
    Comparison,
    Direction,
    Scale,
    VariantResult,
    check_direction,
    good_sign,
    improvement_interval,
)

__all__ = [
    "CHANGED",
    "CODES",
    "GUARDRAIL",
    "GUARDRAIL_PENDING",
    "INCONCLUSIVE",
    "LOSING",
    "NO_DIFFERENCE_YET",
    "SRM",
    "WINNING",
    "ExperimentVerdict",
    "GuardrailCheck",
    "VariantVerdict",
    "calls_still_needed",
    "decide",
    "experiment_code",
    "guardrail_check",
    "improvement_interval",
    "is_significantly_worse",
    "running_range",
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


def is_significantly_worse(
    comparison: Comparison, direction: Direction, scale: Scale = "relative"
) -> bool:
    """Guardrail check: True when the lift interval lies entirely on the bad side of 0.

    Method: :func:`improvement_interval` high end < 0. Pass a sequential (always-valid)
    comparison so that watching guardrails continuously stays honest.
    """
    estimate = comparison.absolute if scale == "absolute" else comparison.relative
    return estimate.ok and improvement_interval(comparison, direction, scale)[1] < 0


@dataclass(frozen=True)
class GuardrailCheck:
    """One guardrail of one variant, in the metric's unit (positive ``worse_by`` = worse).

    ``worse_by`` is the estimated change in the bad direction, ``worst`` the bad end of its
    always-valid range, ``threshold`` the change that matters (absolute, in the metric's
    unit); ``worse`` means significantly worse (range entirely on the bad side of 0) and
    ``shown_safe`` means the range excludes every change worse than the threshold.
    """

    worse_by: float
    worst: float
    threshold: float
    worse: bool
    shown_safe: bool
    ok: bool


def guardrail_check(
    result: VariantResult, direction: Direction, metric: str, threshold: float
) -> GuardrailCheck:
    """Is the guardrail significantly worse, and is it shown to be no worse than threshold?

    Method: a non-inferiority test read off the absolute change's always-valid range
    (Holm-consistent level, :func:`apps.stats.correction.compare_variants` with
    ``scale="absolute"``): with (low, high) the range oriented so that + is better,
    worse_by = -estimate, worst = -low; shown safe iff worst < t, where t is
    :func:`apps.stats.scales.threshold_in_units` (fraction of the control's mean for rates
    and durations, points for sentiment), so it holds for any sign of the control's mean.
    Reference: the confidence-interval form of a non-inferiority test (e.g. Wellek, Testing
    Statistical Hypotheses of Equivalence and Noninferiority, 2nd ed., ch. 2). Thin data
    (no estimate) is never shown safe.
    """
    c = result.comparison
    t = threshold_in_units(metric, threshold, c.control.mean)
    if not c.absolute.ok:
        return GuardrailCheck(0.0, 0.0, t, False, False, False)
    low, high = improvement_interval(c, direction, "absolute")
    worse_by = -good_sign(direction) * c.absolute.value
    return GuardrailCheck(worse_by, -low, t, high < 0, -low < t, True)


def running_range(
    result: VariantResult, kept: Sequence[float] | None, kept_p: float | None = None
) -> tuple[VariantResult, bool]:
    """The result with its range intersected with the range kept from earlier looks.

    Method: a (1 - alpha) confidence sequence covers the true change at all looks at once
    (Howard et al. 2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
    Ann. Statist., section 1: the running intersection of a confidence sequence is one), so
    the intersection of every look's range is still a valid range and never widens; the
    always-valid p-value is likewise the smallest one so far. Returns (result, empty): when
    the intersection is empty the result keeps this look's range and ``empty`` is True (the
    effect changed over time). Works on the decision's scale (``result.scale``); a result
    without an estimate is returned as it is.
    """
    estimate = result.estimate
    if not estimate.ok or not kept:
        return result, False
    low, high = max(estimate.ci_low, kept[0]), min(estimate.ci_high, kept[1])
    if low > high:
        return result, True
    estimate = replace(estimate, ci_low=low, ci_high=high)
    field = "absolute" if result.scale == "absolute" else "relative"
    comparison = replace(result.comparison, **{field: estimate})
    adjusted = result.adjusted_p_value if kept_p is None else min(result.adjusted_p_value, kept_p)
    return replace(result, comparison=comparison, adjusted_p_value=adjusted), False


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
    guardrail_pending: bool = False,
    changed: bool = False,
) -> str:
    """Verdict code for one variant by the rules of the module docstring (rules 1-6).

    ``enough_calls`` says whether every arm has the minimum calls; ``planned`` is the
    planned calls per arm; ``guardrail_pending`` says a guardrail is not yet shown safe
    (turns a winner into ``guardrail_pending``). Assumes ``result`` comes from
    :func:`apps.stats.correction.compare_variants` (sequential, Holm-consistent intervals).
    """
    c = result.comparison
    if srm:
        return SRM
    if guardrail:
        return GUARDRAIL
    if not enough_calls or not result.estimate.ok:
        return NO_DIFFERENCE_YET
    if changed:
        return CHANGED
    low, high = improvement_interval(c, direction, result.scale)
    if low > 0:
        return GUARDRAIL_PENDING if guardrail_pending else WINNING
    if high < 0:
        return LOSING
    if planned is not None and min(c.control.n, c.variant.n) >= planned:
        return INCONCLUSIVE
    return NO_DIFFERENCE_YET


def experiment_code(codes: Sequence[str]) -> str:
    """Experiment-level code from the variants' codes (priority in the module docstring)."""
    if not codes:
        return NO_DIFFERENCE_YET
    for code in (SRM, WINNING, GUARDRAIL_PENDING, GUARDRAIL, CHANGED):
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
    guardrails_unproven: Mapping[str, Sequence[str]] | None = None,
    metric: str | None = None,
    changed: Sequence[str] | set[str] = (),
) -> ExperimentVerdict:
    """Verdict per variant and for the experiment, with plain-language sentences.

    Method: :func:`variant_code` per variant and :func:`experiment_code` (module docstring).
    ``guardrails_worse`` maps a variant name to True or to the labels of guardrails that are
    significantly worse (see :func:`is_significantly_worse`). ``arm_calls`` overrides the
    per-arm counts (key "control" for the control), e.g. calls when the unit is the caller.
    ``guardrails_unproven`` maps a variant name to the labels of guardrails not yet shown
    safe (:func:`guardrail_check`); ``metric`` (the goal's name) writes changes in its own
    unit (:mod:`apps.stats.scales`). ``changed`` names the variants whose running range
    became empty (:func:`running_range`).
    """
    check_direction(direction)
    counts = _arm_counts(results, arm_calls)
    enough = all(n >= min_calls_per_arm for n in counts.values())
    flags, unproven = guardrails_worse or {}, guardrails_unproven or {}
    words = (metric_phrase, metric)
    verdicts = tuple(
        _variant_verdict(
            r,
            direction,
            enough,
            srm,
            (_guardrail_labels(flags.get(r.name)), tuple(unproven.get(r.name, ()))),
            (min_calls_per_arm, planned_calls_per_arm),
            words,
            r.name in changed,
        )
        for r in results
    )
    return _experiment(results, verdicts, direction)


def _variant_verdict(r, direction, enough, srm, labels, plan, words, changed) -> VariantVerdict:
    (min_calls, planned), (worse, unproven) = plan, labels
    code = variant_code(
        r,
        direction,
        enough_calls=enough,
        srm=srm,
        guardrail=bool(worse),
        planned=planned,
        guardrail_pending=bool(unproven),
        changed=changed,
    )
    need = None
    if code == NO_DIFFERENCE_YET:
        c = r.comparison
        need = calls_still_needed(c.control.n, c.variant.n, min_calls, planned)
    labels = unproven if code == GUARDRAIL_PENDING else worse
    text = describe_variant(r, code, direction, need, words[0], labels, metric=words[1])
    return VariantVerdict(r.name, code, need, text)


def _experiment(results, verdicts: tuple[VariantVerdict, ...], direction) -> ExperimentVerdict:
    code = experiment_code([v.code for v in verdicts])
    winners = [r for r, v in zip(results, verdicts, strict=True) if v.code == WINNING]
    best = max(winners, key=lambda r: _improvement(r, direction), default=None)
    return ExperimentVerdict(
        code, verdicts, best.name if best else None, describe_experiment(code, verdicts, best)
    )


def _improvement(result: VariantResult, direction: Direction) -> float:
    if result.scale == "absolute":
        return good_sign(direction) * result.comparison.absolute.value
    return good_sign(direction, result.comparison.control.mean) * result.comparison.relative.value
