"""An experiment's life: draft it, start it, stop it, apply its winner."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.agents.models import Agent
from apps.agents.services import agent_lock
from apps.assignments import bucketing
from apps.audit.services import audit_record, person
from apps.experiments.goals import clean_goal, clean_guardrails, clean_secondary
from apps.experiments.models import (
    Experiment,
    GoalKind,
    Status,
    Unit,
    Variant,
)
from apps.experiments.selectors import variant_verdict
from apps.experiments.services.common import _locked, _require_status, phase_record
from apps.experiments.services.ramp import clean_ramp, ramp_start_weights
from apps.experiments.services.requests import apply_requests_close
from apps.metrics import for_agent
from apps.metrics.segments import SegmentError, clean_kept
from config.celery import queue_after_commit

MAX_APPLY_REASON_CHARS = 2000
MAX_DESCRIPTION_CHARS = 5000

# Checks an app above experiments adds to starting (the rehearsal gate, apps/rehearsals):
# each is called with the locked draft and its variants and raises ValidationError to
# refuse. Registered from AppConfig.ready, so experiments imports none of those apps.
START_CHECKS: list = []


def start_check_register(check) -> None:
    if check not in START_CHECKS:
        START_CHECKS.append(check)


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationError(
            {"description": f"Keep the hypothesis under {MAX_DESCRIPTION_CHARS:,} characters."}
        )
    return description


def _clean_choices(*, agent_id, goal_kind, goal_direction, goal_criteria, guardrails, secondary):
    """The goal, guardrails and secondary metrics, checked against the agent's metrics."""
    known = for_agent(agent_id)
    direction, criteria = clean_goal(known, goal_kind, goal_direction, goal_criteria)
    guards = clean_guardrails(known, goal_kind, guardrails)
    return {
        "goal_kind": goal_kind,
        "goal_direction": direction,
        "goal_criteria": criteria,
        "guardrails": guards,
        "secondary": clean_secondary(known, goal_kind, guards, secondary),
    }


def clean_segments(segments) -> list[str]:
    """The segments kept up to date with the results (None: the default ones)."""
    try:
        return clean_kept(segments)
    except SegmentError as error:
        raise ValidationError({"segments": str(error)}) from None


def _clean_optimize(known: dict, goal_kind: str, optimize) -> bool:
    if optimize and not known[goal_kind].optimizable:
        names = " and ".join(m.label for m in known.values() if m.optimizable)
        raise ValidationError(
            {
                "optimize": f"Optimize mode works for goals whose calls pass or fail ({names}); "
                "use a fixed split for this goal."
            }
        )
    return bool(optimize)


@transaction.atomic
def experiment_create(
    *,
    agent: Agent,
    name: str,
    goal_kind: str,
    user=None,
    description: str = "",
    goal_direction: str = "",
    goal_criteria: str = "",
    guardrails: list | None = None,
    secondary: list[str] | None = None,
    segments: list[str] | None = None,
    unit: str = Unit.CALLER,
    min_lift: float = 0.05,
    optimize: bool = False,
    ramp: bool = False,
) -> Experiment:
    """Draft an experiment; its control is the agent's current prompt, with all the traffic.
    `guardrails` are metric keys (threshold 3%) or {metric, threshold_percent}; `segments`
    the ones kept up to date with its results (None: apps.metrics.segments.DEFAULT)."""
    agent = agent_lock(agent.pk)
    if agent.current_version_id is None:
        raise ValidationError(f"{agent.name} has no prompt yet; save one before experimenting.")
    choices = _clean_choices(
        agent_id=agent.pk,
        goal_kind=goal_kind,
        goal_direction=goal_direction,
        goal_criteria=goal_criteria,
        guardrails=guardrails,
        secondary=secondary,
    )
    if unit not in Unit.values:
        raise ValidationError(
            {"unit": "Choose “caller” (each caller keeps one variant) or “call”."}
        )
    optimize = _clean_optimize(for_agent(agent.pk), goal_kind, optimize)
    ramp = clean_ramp(ramp=ramp, optimize=optimize)
    if not isinstance(min_lift, int | float) or not 0 < min_lift <= 10:
        raise ValidationError(
            {"min_lift": "The smallest lift worth detecting must be above 0%, e.g. 5%."}
        )
    experiment = Experiment(
        agent=agent,
        name=(name or "").strip(),
        description=_clean_description(description),
        **choices,
        segments=clean_segments(segments),
        unit=unit,
        min_lift=float(min_lift),
        optimize=optimize,
        ramp=ramp,
        created_by=person(user),
    )
    experiment.full_clean(exclude=["winner"])
    experiment.save()
    Variant.objects.create(
        experiment=experiment,
        key="control",
        name="Control",
        prompt_version=agent.current_version,
        weight=100,
        is_control=True,
    )
    audit_record(
        actor=user,
        action="experiment.create",
        obj=experiment,
        after={
            "agent": agent.slug,
            "goal": goal_kind,
            "unit": unit,
            "optimize": bool(optimize),
            "ramp": ramp,
        },
    )
    return experiment


@transaction.atomic
def experiment_segments_keep(*, experiment: Experiment, segments, user=None) -> Experiment:
    """Change which segments are kept up to date with the results, while drafting or running
    (an analysis setting: no caller is routed differently). A running experiment's results
    are recomputed at once, so the page shows the new split from the same scan. Refused once
    stopped: the results people decided on are frozen with their segments; any other segment
    can still be shown on request."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT, Status.RUNNING}, "its kept segments can change")
    kept = clean_segments(segments)
    before = list(experiment.segments)
    if kept == before:
        return experiment
    experiment.segments = kept
    experiment.save(update_fields=["segments"])
    audit_record(
        actor=user,
        action="experiment.segments",
        obj=experiment,
        before={"segments": before},
        after={"segments": kept},
    )
    if experiment.status == Status.RUNNING:
        queue_after_commit("results.compute", experiment.pk)
    return experiment


@transaction.atomic
def experiment_start(*, experiment: Experiment, user=None) -> Experiment:
    """Send traffic to the variants. At most one experiment runs per agent."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "it can be started")
    variants = list(experiment.variants.all())
    control = next(v for v in variants if v.is_control)
    if control.prompt_version_id != experiment.agent.current_version_id:
        raise ValidationError(
            f"{experiment.agent.name}'s prompt changed after this experiment was drafted, so "
            "its control is out of date. Create a new experiment from the current prompt."
        )
    if experiment.goal_kind == GoalKind.CUSTOM and not all(experiment.judge):
        raise ValidationError(
            "A custom goal needs an LLM judge to score each call, and none is configured. "
            "Set JUDGE_BASE_URL and JUDGE_MODEL (any OpenAI-compatible chat-completions "
            "endpoint), or give this experiment its own judge, then start it.",
            code="judge",
        )
    if sum(v.weight for v in variants) != 100:
        raise ValidationError("Traffic weights must add up to 100% before starting.")
    if sum(1 for v in variants if v.weight > 0) < 2:
        raise ValidationError(
            "At least two variants need traffic (a weight above 0%) to compare anything."
        )
    for check in START_CHECKS:
        check(experiment=experiment, variants=variants)
    other = Experiment.objects.filter(agent=experiment.agent, status=Status.RUNNING).first()
    if other is not None:
        raise ValidationError(
            f"“{other.name}” is already running on {experiment.agent.name}; "
            "stop it first (one experiment per agent at a time)."
        )
    _ramp_begin(experiment, variants)
    experiment.status = Status.RUNNING
    experiment.started_at = timezone.now()
    # Consecutive ranges in the variants' order (control, b, c...): the split routers served
    # before layouts were stored, so every later change can move the fewest callers.
    layout = bucketing.consecutive_layout({v.id: v.weight for v in variants})
    experiment.bucket_layout = [list(r) for r in layout]
    experiment.phases = [
        phase_record(experiment, {v.id: v.weight for v in variants}, experiment.started_at)
    ]
    try:
        with transaction.atomic():
            experiment.save(
                update_fields=["status", "started_at", "bucket_layout", "phases", "ramp_target"]
            )
    except IntegrityError:
        raise ValidationError(
            f"Another experiment started on {experiment.agent.name} at the same moment; "
            "one experiment per agent at a time."
        ) from None
    audit_record(
        actor=user,
        action="experiment.start",
        obj=experiment,
        before={"status": Status.DRAFT},
        after={"status": Status.RUNNING, **_ramp_audit(experiment, variants)},
    )
    return experiment


def _ramp_audit(experiment: Experiment, variants: list[Variant]) -> dict:
    if not experiment.ramp:
        return {}
    return {"weights": {v.key: v.weight for v in variants}, "ramp_target": experiment.ramp_target}


def _ramp_begin(experiment: Experiment, variants: list[Variant]) -> None:
    """With a ramp: remember the split on screen as the target and start each variant at 5%
    (the control takes the rest). The variants' rows change in the start's transaction."""
    clean_ramp(ramp=experiment.ramp, optimize=experiment.optimize)
    if not experiment.ramp:
        experiment.ramp_target = {}
        return
    experiment.ramp_target, start = ramp_start_weights(variants)
    for variant in variants:
        if variant.weight != start[variant.key]:
            variant.weight = start[variant.key]
            variant.save(update_fields=["weight"])


@transaction.atomic
def experiment_stop(*, experiment: Experiment, user=None) -> Experiment:
    """Send all traffic back to the control prompt and freeze the results."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "it can be stopped")
    experiment.status = Status.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at"])
    queue_after_commit("results.freeze", experiment.pk)
    audit_record(
        actor=user,
        action="experiment.stop",
        obj=experiment,
        before={"status": Status.RUNNING},
        after={"status": Status.STOPPED},
    )
    return experiment


def _check_results_allow(experiment: Experiment, variant: Variant, reason: str) -> None:
    """A worse guardrail blocks applying; a variant the results do not call a winner needs
    a written reason, which the audit log keeps."""
    if variant.is_control:
        return  # keeping the current prompt needs no justification
    verdict = variant_verdict(experiment, variant.key) or {}
    if verdict.get("code") == "guardrail":
        raise ValidationError(f"{verdict['sentence']} Applying it is blocked.", code="guardrail")
    if verdict.get("code") != "winning" and not (reason or "").strip():
        raise ValidationError(
            f"The results do not call {variant.name} a winner. Write why you apply it anyway; "
            "the reason is kept in the audit log.",
            code="reason",
        )


@transaction.atomic
def winner_apply(
    *, experiment: Experiment, variant_key: str, user=None, reason: str = ""
) -> Experiment:
    """Make the winner's prompt version the agent's current prompt. Applying twice is harmless."""
    if len(reason or "") > MAX_APPLY_REASON_CHARS:
        raise ValidationError(
            {"reason": f"Keep the reason under {MAX_APPLY_REASON_CHARS:,} characters."}
        )
    experiment = _locked(experiment)
    if experiment.status == Status.APPLIED:
        if experiment.winner.key == variant_key:
            return experiment
        raise ValidationError(
            f"This experiment already applied {experiment.winner.name}; it cannot apply another."
        )
    if experiment.status != Status.STOPPED:
        raise ValidationError(
            "Stop the experiment before applying a winner, so its results are frozen first."
            if experiment.status == Status.RUNNING
            else "This experiment never ran, so it has no winner to apply."
        )
    variant = experiment.variants.select_related("prompt_version").filter(key=variant_key).first()
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” in this experiment.")
    agent = experiment.agent  # locked by _locked, before the experiment
    running = agent.experiments.filter(status=Status.RUNNING).first()
    if running is not None:
        raise ValidationError(
            f"“{running.name}” is running on {agent.name} now; stop it before applying "
            "this winner, so its control keeps meaning the current prompt."
        )
    _check_results_allow(experiment, variant, reason)
    before = agent.current_version.number if agent.current_version_id else None
    agent.current_version = variant.prompt_version
    agent.save(update_fields=["current_version"])
    experiment.status = Status.APPLIED
    experiment.winner = variant
    experiment.applied_at = timezone.now()
    experiment.save(update_fields=["status", "winner", "applied_at"])
    audit_record(
        actor=user,
        action="experiment.apply",
        obj=experiment,
        reason=reason,
        before={"version": before},
        after={"variant": variant.key, "version": variant.prompt_version.number},
    )
    apply_requests_close(experiment=experiment, user=user)  # however it was applied
    return experiment
