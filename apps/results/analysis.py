"""Sufficient statistics -> everything a results page shows. Only this module calls `stats`.

`analyse()` is a pure function of the experiment's settings, its variants and the per-arm
sufficient statistics; it returns the typed Result (apps.results.result) whose JSON a
ResultSnapshot stores.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from apps.metrics import METRICS, Metric
from apps.results.aggregation import ArmData
from apps.results.quantiles import ALL as ALL_PHASES
from apps.results.result import (
    Change,
    CupedSummary,
    CupedVariant,
    GuardrailChange,
    GuardrailResult,
    MetricCell,
    MetricChange,
    MetricRow,
    Plan,
    Result,
    Running,
    SrmCheck,
    VariantResult,
    VariantVerdict,
    Verdict,
)
from apps.stats import bayesian as bayes
from apps.stats import planning
from apps.stats.correction import compare_variants, compare_with_fdr
from apps.stats.cuped import CovariateStats, CupedResult, cuped
from apps.stats.quantile import quantile_moments
from apps.stats.ratio import ratio_moments
from apps.stats.scales import format_change, shows_relative
from apps.stats.srm import PhaseCounts, srm_sequential
from apps.stats.strata import stratified
from apps.stats.types import Moments, RatioStats, improvement_interval
from apps.stats.verdict import decide, guardrail_check, running_range

ALPHA = 0.05
EMPTY = RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Arm:
    key: str
    name: str
    weight: int
    is_control: bool
    data: ArmData | None
    exposures: int = 0
    # The goal's statistics with the callers' history, per phase (apps/results/cuped.py);
    # None: no CUPED for this experiment.
    history: dict[int, CovariateStats] | None = None

    def moments(self, metric: str) -> Moments:
        """Over all the arm's units (the value shown for the arm)."""
        if self.data and metric in self.data.quantiles.get(ALL_PHASES, {}):
            return quantile_moments(self.data.quantiles[ALL_PHASES][metric])
        stats = self.data.metrics.get(metric, EMPTY) if self.data else EMPTY
        return ratio_moments(stats)

    def phase_moments(self, metric: str) -> dict[int, Moments]:
        """Per phase of the split (phase index -> Moments); one phase when none are known."""
        if self.data and metric in self.data.quantiles.get(ALL_PHASES, {}):
            phases = {k: q for k, q in self.data.quantiles.items() if k != ALL_PHASES}
            return {k: quantile_moments(q[metric]) for k, q in phases.items() if metric in q}
        if self.data is None or not self.data.phases:
            return {0: self.moments(metric)}
        return {k: ratio_moments(m.get(metric, EMPTY)) for k, m in self.data.phases.items()}

    def units_in(self, phase: int) -> int:
        if self.data is None:
            return 0
        if not self.data.units_by_phase:
            return self.data.units if phase == 0 else 0
        return self.data.units_by_phase.get(phase, 0)

    @property
    def calls(self) -> int:
        return self.data.calls if self.data else 0


@dataclass(frozen=True)
class Setup:
    goal: str
    direction: str
    guardrails: tuple[str, ...]
    min_calls: int
    tuning: int
    min_lift: float  # relative for rates and duration; points on -1..1 for sentiment
    calls_per_day: float
    guardrail_threshold: float = 0.03  # a guardrail's when `thresholds` has none for it
    # The split of each phase, oldest first: variant key -> percent. Empty: one phase with
    # the arms' current weights.
    phases: tuple[dict[str, int], ...] = ()
    unit: str = "caller"
    # The "running" part of the previous result: the goal's always-valid ranges kept so far
    # (intersected look after look, so a verdict cannot flip back). None: the first look.
    previous: Running | Mapping | None = None
    # Each guardrail's own threshold, a fraction read on the metric's scale
    # (apps.stats.scales.threshold_in_units): metric key -> 0.03 for "3".
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Metrics reported beside the goal, Benjamini-Hochberg corrected; they never decide.
    secondary: tuple[str, ...] = ()
    # Every metric the experiment can use (apps.metrics.for_agent), by key.
    metrics: Mapping[str, Metric] = field(default_factory=lambda: METRICS)

    def threshold_of(self, metric: str) -> float:
        return self.thresholds.get(metric, self.guardrail_threshold)

    @property
    def basis(self) -> str:
        """What the running ranges are ranges of: another goal or unit starts them afresh."""
        return f"{self.goal}|{self.direction}|{self.unit}|{self.tuning}"


def analyse(setup: Setup, arms: list[Arm]) -> Result:
    """Everything the results page shows; every number in it finite or None (never NaN):
    extreme sufficient statistics can make a formula overflow, and JSON has no NaN."""
    return _analyse(setup, arms).finite()


def _analyse(setup: Setup, arms: list[Arm]) -> Result:
    control, others = arms[0], arms[1:]
    adjusted = _cuped(arms)
    seq = _compare(setup, setup.goal, control, others, "sequential", adjusted=adjusted)
    seq, changed, running = running_ranges(setup, others, seq)
    fixed = _compare(
        setup, setup.goal, control, others, "fixed", correction=False, adjusted=adjusted
    )
    srm = _srm(setup, arms)
    guardrails = tuple(_guardrail(setup, m, control, others) for m in setup.guardrails)
    worse = {a.name: [g.label for g in guardrails if a.key in g.worse] for a in others}
    unproven = {a.name: [g.label for g in guardrails if a.key in g.unproven] for a in others}
    planned = _planned(setup, control.moments(setup.goal), arms)
    verdict = decide(
        seq,
        setup.direction,
        min_calls_per_arm=setup.min_calls,
        srm=srm.flagged,
        guardrails_worse=worse,
        guardrails_unproven=unproven,
        planned_calls_per_arm=planned,
        metric_phrase=setup.metrics[setup.goal].phrase,
        metric=setup.goal,
        changed=changed,
    )
    variants = (
        _control_row(control, setup.goal),
        *(
            _variant_row(a, s, f, v, setup, control)
            for a, s, f, v in zip(others, seq, fixed, verdict.variants, strict=True)
        ),
    )
    return Result(
        goal=setup.goal,
        direction=setup.direction,
        verdict=Verdict(verdict.code, _with_days(verdict.sentence, setup, arms, planned)),
        srm=srm,
        guardrails=guardrails,
        plan=_plan(setup, arms, planned),
        variants=variants,
        metrics=_metric_rows(setup, arms, variants, guardrails) + _secondary_rows(setup, arms),
        best=next((a.key for a in others if a.name == verdict.best), None),
        running=running,
        cuped=_cuped_summary(adjusted),
    )


def _cuped(arms: list[Arm]) -> CupedResult | None:
    """The goal adjusted for the callers' history (apps.stats.cuped), when it was aggregated."""
    if all(a.history is None for a in arms):
        return None
    phases: dict[int, dict[str, CovariateStats]] = {}
    for arm in arms:
        for k, stats in (arm.history or {}).items():
            phases.setdefault(k, {})[arm.key] = stats
    return cuped(phases)


def _cuped_summary(result: CupedResult | None) -> CupedSummary | None:
    """What the page says of CUPED: the share of the noise removed, callers with history,
    and each variant's adjusted value with its 95% range."""
    if result is None:
        return None
    variants = tuple(CupedVariant(key, m.mean, *_interval(m)) for key, m in result.arms.items())
    return CupedSummary(result.variance_removed, result.units, result.with_history, variants)


def _metric_rows(setup: Setup, arms: list[Arm], variants: tuple, guardrails: tuple) -> tuple:
    """Every metric the experiment watches, in one shape: the goal, then its guardrails.
    Each variant's value with its 95% range, the change versus the control on the metric's
    own scale with its always-valid range, and the verdict (the goal's verdict code, or for
    a guardrail: worse, safe or not_yet)."""
    goal = setup.metrics[setup.goal]
    rows = [
        _metric_row(
            goal,
            "goal",
            setup.direction,
            arms,
            {v.key: (_metric_change(v.lift), v.verdict and v.verdict.code) for v in variants},
        )
    ]
    for guard in guardrails:
        changes = {
            g.key: (
                _metric_change(g),
                "worse" if g.key in guard.worse else "safe" if g.shown_safe else "not_yet",
            )
            for g in guard.variants
        }
        metric = setup.metrics[guard.metric]
        rows.append(_metric_row(metric, "guardrail", metric.direction, arms, changes))
    return tuple(rows)


def _metric_change(change: Change | GuardrailChange | None) -> MetricChange | None:
    if change is None:
        return None
    return MetricChange(change.absolute, change.relative, change.ci_low, change.ci_high)


def _secondary_rows(setup: Setup, arms: list[Arm]) -> tuple:
    """The secondary metrics, reported and never deciding: every variant against the control
    on each, with p-values and intervals corrected by Benjamini-Hochberg across all secondary
    metrics times variants (apps.stats.correction.compare_with_fdr), so that watching many
    metrics does not turn chance into "better". Verdict: better, worse or
    no_clear_difference; each change carries its adjusted p-value."""
    control, others = arms[0], arms[1:]
    keys = [k for k in setup.secondary if k in setup.metrics]
    pairs = [
        (f"{key}|{arm.key}", *_stratified(control, arm, key)) for key in keys for arm in others
    ]
    results = iter(compare_with_fdr(pairs, ALPHA, "sequential", setup.tuning))
    rows = []
    for key in keys:
        metric, changes = setup.metrics[key], {}
        for arm in others:
            result = next(results)
            change = replace(_metric_change(_change(result, key)), p_value=result.adjusted_p_value)
            changes[arm.key] = (change, _secondary_verdict(setup, result, metric.direction))
        rows.append(_metric_row(metric, "secondary", metric.direction, arms, changes))
    return tuple(rows)


def _secondary_verdict(setup: Setup, result, direction: str) -> str:
    """better or worse once the corrected range excludes no change and every arm has its
    minimum units; otherwise no_clear_difference."""
    c = result.comparison
    if not result.estimate.ok or min(c.control.n, c.variant.n) < setup.min_calls:
        return "no_clear_difference"
    low, high = improvement_interval(c, direction, "absolute")
    if result.adjusted_p_value < ALPHA and low > 0:
        return "better"
    if result.adjusted_p_value < ALPHA and high < 0:
        return "worse"
    return "no_clear_difference"


def _metric_row(metric, role: str, direction: str, arms: list[Arm], changes: dict) -> MetricRow:
    cells = []
    for arm in arms:
        m = arm.moments(metric.key)
        low, high = _interval(m)
        change, verdict = changes.get(arm.key, (None, None))
        cells.append(
            MetricCell(
                key=arm.key,
                value=m.mean if m.n else None,
                ci_low=low if m.n > 1 else None,
                ci_high=high if m.n > 1 else None,
                units=m.n,
                change=change,
                verdict=verdict,
            )
        )
    return MetricRow(metric.key, metric.title, role, metric.scale, direction, tuple(cells))


def running_ranges(setup: Setup, others: list[Arm], results: list):
    """The goal's always-valid ranges intersected with those of every earlier look.

    A confidence sequence covers the true change at every look at once (with probability
    1 - alpha), so the intersection of its ranges covers it too, and is narrower: a range
    that once excluded "no change" keeps excluding it, and a verdict cannot flip back. If
    the intersection is empty, no single true change fits every look: the effect changed
    over time (`changed`). The smallest always-valid p-value so far is kept with it.
    Returns the results with their ranges replaced, the names whose effect changed, and the
    state to keep for the next look.
    """
    before = setup.previous
    if before is None or isinstance(before, Mapping):
        before = Running.from_json(before)
    kept = before.ranges if before.basis == setup.basis else {}
    p_kept = before.p if before.basis == setup.basis else {}
    out, changed, ranges, p_values = [], set(), {}, {}
    for arm, result in zip(others, results, strict=True):
        result, empty = running_range(result, kept.get(arm.key), p_kept.get(arm.key))
        if empty:
            changed.add(arm.name)
        if _worth_keeping(setup, result):
            ranges[arm.key] = [result.estimate.ci_low, result.estimate.ci_high]
            p_values[arm.key] = result.adjusted_p_value
        elif arm.key in kept:
            ranges[arm.key], p_values[arm.key] = kept[arm.key], p_kept.get(arm.key, 1.0)
        out.append(result)
    return out, changed, Running(setup.basis, ranges, p_values)


def _worth_keeping(setup: Setup, result) -> bool:
    """Only a range the verdict could rest on is kept for later looks: every arm has its
    minimum units and some spread. Before that (a 1% arm with 6 callers and no conversion has
    a variance of 0), the normal approximation behind the range does not hold, and a range
    kept from then would decide later looks (33.6% false verdicts in A/A on a 99/1 split)."""
    c = result.comparison
    return (
        result.estimate.ok
        and min(c.control.n, c.variant.n) >= setup.min_calls
        and c.control.variance > 0
        and c.variant.variance > 0
    )


def _compare(setup, metric, control, others, method, correction=True, adjusted=None):
    """Each variant against the control within each phase of the split, combined
    (apps.stats.strata), so a split change cannot favour a variant. Verdicts are made on the
    absolute change, in the metric's own unit (apps.stats.scales): a relative lift means
    nothing for sentiment on -1..1. `adjusted`: the goal's phases adjusted by CUPED."""
    pairs = [_stratified(control, arm, metric, adjusted) for arm in others]
    return compare_variants(
        None,
        [(a.name, v) for a, (_, v) in zip(others, pairs, strict=True)],
        ALPHA,
        method=method,
        tuning=setup.tuning,
        correction=correction,
        scale="absolute",
        controls=[c for c, _ in pairs],
    )


def _stratified(control: Arm, arm: Arm, metric: str, adjusted=None) -> tuple[Moments, Moments]:
    by_phase_c, by_phase_v = control.phase_moments(metric), arm.phase_moments(metric)
    if adjusted is not None:
        by_phase_c, by_phase_v = (
            adjusted.phases.get(control.key, {}),
            adjusted.phases.get(arm.key, {}),
        )
    none = Moments(0, 0.0, 0.0)
    phases = sorted(set(by_phase_c) | set(by_phase_v))
    return stratified([(by_phase_c.get(k, none), by_phase_v.get(k, none)) for k in phases])


def _srm(setup: Setup, arms: list[Arm]) -> SrmCheck:
    """Is each variant getting its share of units (callers, or calls), phase by phase?
    (apps.stats.srm: anytime-valid, so looking every minute does not raise false alarms.)"""
    splits = setup.phases or ({a.key: a.weight for a in arms},)
    phases = [
        PhaseCounts(
            tuple(a.units_in(k) for a in arms), tuple(float(split.get(a.key, 0)) for a in arms)
        )
        for k, split in enumerate(splits)
    ]
    result = srm_sequential(phases)
    return SrmCheck(
        p_value=result.p_value,
        ok=not result.flagged,
        flagged=result.flagged,
        units={a.key: n for a, n in zip(arms, result.observed, strict=True)},
        expected={a.key: e for a, e in zip(arms, result.expected, strict=True)},
        exposures={a.key: a.exposures for a in arms},
    )


def _guardrail(setup, metric, control, others) -> GuardrailResult:
    """A guardrail in its own unit: which variants make it significantly worse, and which
    are not yet shown to be no worse than its own threshold (apps.stats.verdict.
    guardrail_check); `threshold` is that threshold in the metric's unit."""
    label, direction = setup.metrics[metric].label, setup.metrics[metric].direction
    results = _compare(setup, metric, control, others, "sequential")
    limit = setup.threshold_of(metric)
    checks = [guardrail_check(r, direction, metric, limit) for r in results]
    pairs = list(zip(others, results, checks, strict=True))
    return GuardrailResult(
        metric=metric,
        label=label,
        direction=direction,
        worse=tuple(a.key for a, _, check in pairs if check.worse),
        unproven=tuple(a.key for a, _, check in pairs if not check.shown_safe),
        threshold=checks[0].threshold if checks else None,
        threshold_percent=limit * 100,
        control_mean=control.moments(metric).mean,
        variants=tuple(_guardrail_row(a, r, check, metric) for a, r, check in pairs),
    )


def _guardrail_row(arm: Arm, result, check, metric) -> GuardrailChange:
    return GuardrailChange(
        key=arm.key,
        mean=arm.moments(metric).mean,
        **asdict(_change(result, metric)),
        worse_by=check.worse_by,
        worst=check.worst,
        shown_safe=check.shown_safe,
        change_text=_change_text(result.comparison, metric),
    )


def _change_text(comparison, metric) -> str:
    """ "2.5 points higher (50% higher)" for a rate, "0.10 points lower" for sentiment."""
    value, relative = comparison.absolute.value, comparison.relative
    word = "higher" if value > 0 else "lower"
    if metric == "duration":
        word = "longer" if value > 0 else "shorter"
    text = f"{format_change(abs(value), metric)} {word}"
    if shows_relative(metric) and relative.ok:
        text += f" ({abs(relative.value) * 100:.0f}% {word})"
    return text


def _change(result, metric) -> Change:
    """variant - control in the metric's unit with its always-valid range, and the relative
    change beside it where it means something (None for sentiment)."""
    absolute, relative = result.comparison.absolute, result.comparison.relative
    shown = relative.ok and shows_relative(metric)
    low, high = _relative_range(absolute, result.comparison.control.mean) if shown else (None,) * 2
    return Change(
        absolute=absolute.value,
        ci_low=absolute.ci_low,
        ci_high=absolute.ci_high,
        relative=relative.value if shown else None,
        relative_low=low,
        relative_high=high,
        ok=absolute.ok,
    )


def _relative_range(absolute, control_mean: float) -> tuple[float | None, float | None]:
    """The absolute range as a share of the control's mean, for display only (the decision
    is on the absolute range). A rate or a duration cannot fall by more than all of it, so
    the low end stops at -100%."""
    if not control_mean > 0:
        return None, None
    return max(-1.0, absolute.ci_low / control_mean), absolute.ci_high / control_mean


def _interval(moments: Moments) -> tuple[float, float]:
    half = 1.959964 * (moments.variance / moments.n) ** 0.5 if moments.n > 1 else 0.0
    return moments.mean - half, moments.mean + half


def _control_row(arm: Arm, goal: str) -> VariantResult:
    m = arm.moments(goal)
    low, high = _interval(m)
    return VariantResult(arm.key, arm.name, arm.weight, True, arm.calls, m.n, m.mean, low, high)


def _variant_row(arm, seq, fixed, verdict, setup, control) -> VariantResult:
    m = arm.moments(setup.goal)
    low, high = _interval(m)
    chance = bayes.bayesian(control.moments(setup.goal), m, setup.direction, ALPHA)
    return VariantResult(
        key=arm.key,
        name=arm.name,
        weight=arm.weight,
        is_control=False,
        calls=arm.calls,
        units=m.n,
        mean=m.mean,
        ci_low=low,
        ci_high=high,
        lift=_change(seq, setup.goal),
        p_value=seq.adjusted_p_value,
        fixed_p_value=fixed.comparison.relative.p_value,
        chance_to_win=chance.chance_to_win if chance.ok else None,
        verdict=VariantVerdict(verdict.code, verdict.sentence, verdict.calls_still_needed),
    )


def _planned(setup: Setup, control: Moments, arms: list[Arm]) -> int | None:
    """Units per variant for the always-valid test that decides (apps.stats.planning), from
    the control's observed mean and per-unit variance: units are what `moments` counts,
    callers when each caller keeps one variant."""
    if control.n < 2:
        return None
    variants = max(1, sum(1 for a in arms[1:] if a.weight > 0))
    return planning.units_per_variant_for_goal(
        setup.goal,
        control.mean,
        control.variance,
        setup.min_lift,
        direction=setup.direction,
        alpha=ALPHA,
        tuning=setup.tuning,
        variants=variants,
    )


def _plan(setup: Setup, arms: list[Arm], planned: int | None) -> Plan:
    active = [a for a in arms if a.weight > 0] or arms
    fewest = min(a.moments(setup.goal).n for a in active)
    total = planned * len(active) if planned else None
    done = sum(a.moments(setup.goal).n for a in active)
    return Plan(
        calls_per_variant=planned,
        fewest_calls=fewest,
        progress=min(1.0, fewest / planned) if planned else None,
        days_left=planning.days_left(setup.calls_per_day, done, total) if total else None,
        calls_per_day=setup.calls_per_day,
    )


def _with_days(sentence: str, setup: Setup, arms: list[Arm], planned: int | None) -> str:
    days = _plan(setup, arms, planned).days_left
    if not days or "more calls" not in sentence:
        return sentence
    unit = "day" if days == 1 else "days"
    return f"{sentence} That is about {days:,} {unit} at the current volume."
