"""Computing and storing result snapshots."""

import logging
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from apps import metrics
from apps.assignments.models import Exposure
from apps.experiments.models import Experiment, ResultSnapshot, Status
from apps.judging.models import Judgement
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.judging.services import criterion_current
from apps.results import cuped, segments
from apps.results.aggregation import aggregate
from apps.results.analysis import Arm, Setup, analyse
from apps.results.ramp import ramp_advance
from apps.results.result import Result, Running
from apps.results.safety import guardrails_enforce, optimize_rebalance
from apps.results.segment_table import kept_tables
from apps.results.selectors import latest_snapshot

log = logging.getLogger(__name__)


def results_compute(*, experiment: Experiment, frozen: bool = False) -> ResultSnapshot:
    """Aggregate the experiment's calls in one query, analyse, store a snapshot.

    A frozen snapshot (taken when the experiment stops) is stored once; asking again returns
    the one already stored, so the results people decided on never move.
    """
    if frozen and (existing := experiment.snapshots.filter(frozen=True).first()):
        return existing
    judge = _judge(experiment)
    kept = segments.kept(experiment)
    stats = _aggregate(experiment, judge, kept)
    arms = _arms(experiment, judge, stats)
    result = replace(
        analyse(_setup(experiment, arms, _previous(experiment)), arms),
        judging=_judging_counts(experiment, judge),
        segments=kept_tables(experiment, kept, stats),
        computed_at=timezone.now().isoformat(),
    )
    snapshot = ResultSnapshot(
        experiment=experiment,
        computed_at=timezone.now(),
        frozen=frozen,
        calls=sum(a.calls for a in arms),
        verdict_code=result.verdict.code,
        verdict_sentence=result.verdict.sentence,
        data=result.to_json(),
    )
    try:
        with transaction.atomic():
            snapshot.save()
    except IntegrityError:  # another worker froze it at the same moment
        return experiment.snapshots.get(frozen=True)
    if experiment.results_error:
        _record_error(experiment, "")
    return snapshot


def results_compute_or_record(
    *, experiment: Experiment, frozen: bool = False
) -> ResultSnapshot | None:
    """results_compute, or None with the reason logged and kept on the experiment (its page
    shows it) when this experiment's results cannot be computed. Whatever one experiment's
    stored calls hold, the others are refreshed, guarded and frozen all the same."""
    try:
        with transaction.atomic():  # a failed query must not abort the caller's transaction
            return results_compute(experiment=experiment, frozen=frozen)
    except Exception as error:
        log.exception("Results of experiment %s could not be computed", experiment.pk)
        _record_error(experiment, f"{type(error).__name__}: {error}"[:500])
        return None


def results_recompute(*, experiment: Experiment) -> ResultSnapshot | None:
    """Compute the results now, for the page's "Recompute now" and the API's ?fresh=1: a new
    snapshot while running, the frozen one (computed once) after the stop."""
    frozen = experiment.status in (Status.STOPPED, Status.APPLIED)
    snapshot = results_compute_or_record(experiment=experiment, frozen=frozen)
    return snapshot or latest_snapshot(experiment)


def _record_error(experiment: Experiment, reason: str) -> None:
    at = timezone.now() if reason else None
    Experiment.objects.filter(pk=experiment.pk).update(results_error=reason, results_error_at=at)
    experiment.results_error, experiment.results_error_at = reason, at


def _judge(experiment: Experiment) -> tuple | None:
    """(criterion id, model, prompt version) whose verdicts count for a custom goal."""
    if experiment.goal_kind != "custom":
        return None
    criterion = criterion_current(experiment=experiment)
    return criterion.id, experiment.judge[1], JUDGE_PROMPT_VERSION


def _judging_counts(experiment: Experiment, judge: tuple | None) -> dict:
    """Verdicts per variant key, unknown verdicts and judge errors included: shown apart."""
    if judge is None:
        return {}
    criterion_id, model, version = judge
    rows = (
        Judgement.objects.filter(
            call__experiment=experiment,
            call__after_stop=False,
            criterion_id=criterion_id,
            model=model,
            prompt_version=version,
        )
        .values_list("call__variant__key", "verdict")
        .annotate(n=Count("id"))
    )
    counts: dict[str, dict[str, int]] = {}
    for key, verdict, n in rows:
        counts.setdefault(key, {})[verdict] = n
    return counts


def _previous(experiment: Experiment) -> Running | None:
    """The running ranges of the latest result (apps.results.analysis.running_ranges)."""
    latest = experiment.snapshots.order_by("-computed_at", "-id").values_list("data", flat=True)
    data = latest.first()
    return Result.from_json(data).running if data is not None else None


def aggregated_metrics(experiment: Experiment) -> tuple:
    """The metrics to aggregate: every sum or ratio (they share the one scan, so they cost
    little), and a percentile only when the experiment watches it (each costs a second scan
    of the calls)."""
    watched = {experiment.goal_kind, *experiment.guardrail_thresholds, *experiment.secondary}
    known = metrics.for_agent(experiment.agent_id).values()
    return tuple(m for m in known if m.kind != "quantile" or m.key in watched)


def _aggregate(experiment: Experiment, judge: tuple | None, kept=()) -> dict:
    """The one scan: every metric per variant and phase, and the kept segments' rows."""
    return aggregate(
        experiment.id,
        unit=experiment.unit,
        cap=experiment.cap_duration,
        judge=judge,
        phase_starts=experiment.phase_starts,
        metrics=aggregated_metrics(experiment),
        dimensions=[segments.dimension(experiment, s) for s in kept],
    )


def _arms(experiment: Experiment, judge: tuple | None = None, stats=None) -> list[Arm]:
    if stats is None:
        stats = _aggregate(experiment, judge)
    exposures = dict(
        Exposure.objects.filter(experiment=experiment, phase=experiment.weights_version)
        .values("variant_id")
        .annotate(n=Sum("count"))
        .values_list("variant_id", "n")
    )
    history = _history(experiment)
    variants = experiment.variants.order_by("-is_control", "key")
    return [
        Arm(
            v.key,
            v.name,
            v.weight,
            v.is_control,
            stats.get(v.id),
            exposures.get(v.id, 0),
            None if history is None else history.get(v.id, {}),
        )
        for v in variants
    ]


def _history(experiment: Experiment) -> dict | None:
    """The goal's caller history per variant id and phase, when CUPED applies to it."""
    metric = metrics.for_agent(experiment.agent_id).get(experiment.goal_kind)
    if metric is None or metric.kind == "quantile":  # a percentile has no per-caller mean
        return None
    if not cuped.applies(unit=experiment.unit, goal=experiment.goal_kind):
        return None
    return cuped.covariates(
        experiment.id,
        agent_id=experiment.agent_id,
        metric=metric,
        phase_starts=experiment.phase_starts,
        cap=experiment.cap_duration,
    )


def _setup(experiment: Experiment, arms: list[Arm], previous: Running | None = None) -> Setup:
    keys = dict(experiment.variants.values_list("id", "key"))
    phases = tuple(
        {keys[int(i)]: w for i, w in p["weights"].items() if int(i) in keys}
        for p in experiment.phases
    )
    thresholds = experiment.guardrail_thresholds  # percent, e.g. 3
    return Setup(
        goal=experiment.goal_kind,
        direction=experiment.goal_direction,
        guardrails=tuple(thresholds),
        min_calls=experiment.min_calls_per_arm,
        tuning=experiment.sequential_tuning,
        min_lift=experiment.min_lift,
        calls_per_day=_calls_per_day(experiment, sum(a.calls for a in arms)),
        phases=phases,
        unit=experiment.unit,
        previous=previous,
        thresholds={key: percent / 100 for key, percent in thresholds.items()},
        secondary=tuple(experiment.secondary),
        metrics=metrics.for_agent(experiment.agent_id),
    )


def _calls_per_day(experiment: Experiment, calls: int) -> float:
    if experiment.started_at is None:
        return 0.0
    end = experiment.stopped_at or timezone.now()
    days = max((end - experiment.started_at).total_seconds() / 86400, 1 / 24)
    return calls / days


def results_refresh_running() -> int:
    """Refresh every running experiment; freeze any stopped one that has no frozen result."""
    count = 0
    for experiment in Experiment.objects.filter(status=Status.RUNNING).select_related("agent"):
        snapshot = results_compute_or_record(experiment=experiment)
        if snapshot is None:
            continue
        try:
            with transaction.atomic():
                guardrails_enforce(experiment=experiment, snapshot=snapshot)
        except Exception as error:
            log.exception("Guardrails of experiment %s could not be checked", experiment.pk)
            _record_error(experiment, f"Guardrails: {type(error).__name__}: {error}"[:500])
            continue
        _ramp(experiment, snapshot)  # after the pauses, which a ramp step never undoes
        count += 1
    unfrozen = Experiment.objects.filter(
        status__in=[Status.STOPPED, Status.APPLIED], started_at__isnull=False
    ).exclude(snapshots__frozen=True)
    for experiment in unfrozen:
        count += results_compute_or_record(experiment=experiment, frozen=True) is not None
    return count


def _ramp(experiment: Experiment, snapshot: ResultSnapshot) -> None:
    try:
        with transaction.atomic():
            ramp_advance(experiment=experiment, snapshot=snapshot)
    except Exception as error:  # the split stays as it was; the page says why
        log.exception("The ramp of experiment %s could not step", experiment.pk)
        _record_error(experiment, f"Ramp: {type(error).__name__}: {error}"[:500])


def results_prune_snapshots(*, now=None, keep_hours: int | None = None, batch: int = 5000) -> int:
    """Delete stored results nobody reads any more: older than `keep_hours`
    (RESULT_SNAPSHOTS_KEEP_HOURS), not frozen, and not their experiment's latest. Pages, the
    API, guardrails, the ramp, the digest and the apply check read only the latest result, or
    the frozen one after a stop; one a minute per running experiment would otherwise grow the
    table by several MB a day each. In batches, so that no delete holds its locks for long;
    two at once delete each snapshot once. Returns how many were deleted."""
    hours = settings.RESULT_SNAPSHOTS_KEEP_HOURS if keep_hours is None else keep_hours
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    latest = (
        ResultSnapshot.objects.filter(experiment=OuterRef("experiment"))
        .order_by("-computed_at", "-id")
        .values("pk")[:1]
    )
    old = ResultSnapshot.objects.filter(frozen=False, computed_at__lt=cutoff).exclude(
        pk=Subquery(latest)
    )
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch]):
        deleted += ResultSnapshot.objects.filter(pk__in=ids).delete()[0]
    return deleted


def results_optimize_running() -> int:
    """Re-split traffic of experiments in optimize mode by Thompson sampling (hourly)."""
    changed = 0
    for experiment in Experiment.objects.filter(status=Status.RUNNING, optimize=True):
        snapshot = latest_snapshot(experiment)
        if snapshot is None:
            continue
        paused = set(
            experiment.variants.filter(paused_weight__isnull=False).values_list("key", flat=True)
        )
        arms = [
            (v.key, (v.mean or 0.0) * v.units, v.units)  # mean None: no rate
            for v in snapshot.result.variants
            if v.key not in paused
        ]
        try:
            with transaction.atomic():
                weights = optimize_rebalance(experiment=experiment, arms=arms, now=timezone.now())
        except Exception:  # one experiment's trouble never stops the others' re-split
            log.exception("Experiment %s could not be re-split", experiment.pk)
            continue
        if weights is not None:
            changed += 1
    return changed
