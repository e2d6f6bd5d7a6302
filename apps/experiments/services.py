"""The experiment's lifecycle: create, fork, weights, start, stop, apply.

Pages and the API call these same functions. Each refuses bad input with a ValidationError
a person can read and, because each runs in one transaction, writes nothing when it refuses.
`user` is whoever acts: a person, or a string naming an API key or a job.
"""

import logging

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.agents.models import Agent
from apps.agents.services import prompt_version_create
from apps.audit.services import audit_record, person
from apps.experiments.models import (
    Direction,
    Experiment,
    GoalKind,
    Guardrail,
    Status,
    Unit,
    Variant,
)
from apps.experiments.selectors import variant_verdict

log = logging.getLogger(__name__)
VARIANT_KEYS = "bcdefghij"  # control plus at most nine challengers
DEFAULT_GUARDRAILS = [Guardrail.TRANSFER_RATE.value]


def _queue_after_commit(task_name: str, *args) -> None:
    """Queue a task of a higher layer by name once the change is committed.

    If the broker is unreachable the change still stands; the minute-by-minute beat job
    catches up (it freezes stopped experiments that have no frozen results).
    """

    def send():
        try:
            current_app.signature(task_name, args=args).delay()
        except Exception:
            log.warning("Could not queue %s%s; the beat job will catch up", task_name, args)

    transaction.on_commit(send)


def _locked(experiment: Experiment) -> Experiment:
    """The experiment re-read under a row lock, so concurrent writes queue up behind us."""
    return (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=experiment.pk)
    )


def _require_status(experiment: Experiment, allowed: set[str], doing: str) -> None:
    if experiment.status not in allowed:
        raise ValidationError(
            f"“{experiment.name}” is {experiment.get_status_display().lower()}; "
            f"{doing} only while it is {' or '.join(sorted(allowed))}.",
            code="status",
        )


def _clean_goal(goal_kind, goal_direction, goal_criteria):
    if goal_kind not in GoalKind.values:
        raise ValidationError(
            {"goal_kind": f"Pick a goal: {', '.join(GoalKind.values)} (got “{goal_kind}”)."}
        )
    if goal_kind == GoalKind.DURATION:
        goal_direction = goal_direction or Direction.LOWER
        if goal_direction not in Direction.values:
            raise ValidationError({"goal_direction": "Say whether shorter or longer is better."})
    elif goal_direction not in ("", Direction.HIGHER):
        raise ValidationError({"goal_direction": "Only a duration goal can prefer lower values."})
    else:
        goal_direction = Direction.HIGHER
    goal_criteria = (goal_criteria or "").strip()
    if goal_kind == GoalKind.CUSTOM and not goal_criteria:
        raise ValidationError(
            {"goal_criteria": "Describe what a good call looks like; the judge reads this."}
        )
    return goal_direction, goal_criteria if goal_kind == GoalKind.CUSTOM else ""


def _clean_guardrails(guardrails):
    guardrails = DEFAULT_GUARDRAILS if guardrails is None else list(guardrails)
    unknown = [g for g in guardrails if g not in Guardrail.values]
    if unknown:
        raise ValidationError(
            {
                "guardrails": f"Unknown guardrail “{unknown[0]}”; choose from "
                f"{', '.join(Guardrail.values)}."
            }
        )
    return sorted(set(guardrails))


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
    guardrails: list[str] | None = None,
    unit: str = Unit.CALLER,
    min_lift: float = 0.05,
    optimize: bool = False,
) -> Experiment:
    """Draft an experiment; its control is the agent's current prompt, with all the traffic."""
    agent = (
        Agent.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .get(pk=agent.pk)
    )
    if agent.current_version_id is None:
        raise ValidationError(f"{agent.name} has no prompt yet; save one before experimenting.")
    direction, criteria = _clean_goal(goal_kind, goal_direction, goal_criteria)
    if unit not in Unit.values:
        raise ValidationError(
            {"unit": "Choose “caller” (each caller keeps one variant) or “call”."}
        )
    if optimize and goal_kind not in (GoalKind.CONVERSION, GoalKind.CUSTOM):
        raise ValidationError(
            {
                "optimize": "Optimize mode works for conversion and custom goals, whose calls "
                "pass or fail; use a fixed split for this goal."
            }
        )
    if not isinstance(min_lift, int | float) or not 0 < min_lift <= 10:
        raise ValidationError(
            {"min_lift": "The smallest lift worth detecting must be above 0%, e.g. 5%."}
        )
    experiment = Experiment(
        agent=agent,
        name=(name or "").strip(),
        description=(description or "").strip(),
        goal_kind=goal_kind,
        goal_direction=direction,
        goal_criteria=criteria,
        guardrails=_clean_guardrails(guardrails),
        unit=unit,
        min_lift=float(min_lift),
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
        after={"agent": agent.slug, "goal": goal_kind, "unit": unit},
    )
    return experiment


def _clean_overrides(config_overrides) -> dict:
    if config_overrides is None:
        return {}
    if not isinstance(config_overrides, dict):
        raise ValidationError({"config": "Configuration overrides must be a JSON object."})
    return config_overrides


@transaction.atomic
def variant_fork(
    *,
    experiment: Experiment,
    user=None,
    name: str = "",
    body: str | None = None,
    config_overrides: dict | None = None,
) -> Variant:
    """Add a variant that starts as a copy of the control's prompt, with no traffic yet."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "variants can be added")
    taken = set(experiment.variants.values_list("key", flat=True))
    free = [k for k in VARIANT_KEYS if k not in taken]
    if not free:
        raise ValidationError(f"An experiment has at most {len(VARIANT_KEYS) + 1} variants.")
    key = free[0]
    control = experiment.variants.select_related("prompt_version").get(is_control=True)
    version = control.prompt_version
    if body is not None and body.strip() != version.body:
        version = prompt_version_create(
            agent=experiment.agent,
            body=body,
            user=user,
            parent=version,
            note=f"Variant {key.upper()} of “{experiment.name}”",
        )
    variant = Variant(
        experiment=experiment,
        key=key,
        name=(name or "").strip() or f"Variant {key.upper()}",
        prompt_version=version,
        config_overrides=_clean_overrides(config_overrides),
        weight=0,
    )
    variant.full_clean()
    variant.save()
    audit_record(
        actor=user,
        action="variant.fork",
        obj=experiment,
        after={"variant": key, "version": version.number},
    )
    return variant


@transaction.atomic
def variant_update_prompt(*, variant: Variant, body: str, user=None, note: str = "") -> Variant:
    """Give a variant a new prompt: a new immutable prompt version, never an edit of one."""
    experiment = _locked(variant.experiment)
    variant = experiment.variants.select_related("prompt_version").get(pk=variant.pk)
    _require_status(experiment, {Status.DRAFT}, "prompts can be edited")
    if variant.is_control:
        raise ValidationError(
            "The control is the agent's current prompt and stays as it is; edit a variant."
        )
    old = variant.prompt_version
    if (body or "").strip() == old.body:
        raise ValidationError({"prompt": "Nothing changed in this prompt."})
    version = prompt_version_create(
        agent=experiment.agent,
        body=body,
        user=user,
        parent=old,
        note=note or f"Variant {variant.key.upper()} of “{experiment.name}”",
    )
    variant.prompt_version = version
    variant.save(update_fields=["prompt_version"])
    audit_record(
        actor=user,
        action="variant.update_prompt",
        obj=experiment,
        before={"variant": variant.key, "version": old.number},
        after={"variant": variant.key, "version": version.number},
    )
    return variant


@transaction.atomic
def variant_update(
    *, variant: Variant, name: str, body: str, config_overrides: dict | None = None, user=None
) -> Variant:
    """Save a draft variant from its editor: name, prompt (a new version when it changed)
    and configuration overrides. The control's prompt stays the agent's current prompt."""
    experiment = _locked(variant.experiment)
    variant = experiment.variants.select_related("prompt_version").get(pk=variant.pk)
    _require_status(experiment, {Status.DRAFT}, "variants can be edited")
    if variant.is_control and (body or "").strip() != variant.prompt_version.body:
        raise ValidationError(
            {"prompt": "The control is the agent's current prompt; change it in a variant."}
        )
    before = {"name": variant.name, "config": variant.config_overrides}
    variant.name = (name or "").strip() or variant.name
    variant.config_overrides = _clean_overrides(config_overrides)
    variant.full_clean()
    variant.save(update_fields=["name", "config_overrides"])
    if not variant.is_control and (body or "").strip() != variant.prompt_version.body:
        variant = variant_update_prompt(variant=variant, body=body, user=user)
    audit_record(
        actor=user,
        action="variant.update",
        obj=experiment,
        before=before,
        after={
            "name": variant.name,
            "config": variant.config_overrides,
            "version": variant.prompt_version.number,
        },
    )
    return variant


def _clean_weights(weights, keys: list[str]) -> dict[str, int]:
    if not isinstance(weights, dict) or not weights:
        raise ValidationError('Give a weight for each variant, e.g. {"control": 50, "b": 50}.')
    unknown = sorted(set(weights) - set(keys))
    if unknown:
        raise ValidationError(f"There is no variant “{unknown[0]}” in this experiment.")
    missing = [k for k in keys if k not in weights]
    if missing:
        raise ValidationError(f"Give every variant a weight; missing: {', '.join(missing)}.")
    clean = {}
    for key in keys:
        value = weights[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"Weights are whole percentages; “{value}” for {key} is not one.")
        if not 0 <= value <= 100:
            raise ValidationError(f"The weight of {key} is {value}%; it must be from 0 to 100.")
        clean[key] = value
    total = sum(clean.values())
    if total != 100:
        raise ValidationError(
            f"Traffic weights add up to {total}%; they must add up to 100%.", code="sum"
        )
    return clean


@transaction.atomic
def weights_set(
    *, experiment: Experiment, weights: dict, user=None, expected_version: int | None = None
) -> Experiment:
    """Set the traffic split: whole percentages, one per variant, adding up to exactly 100.

    `expected_version` is the experiment's `weights_version` the person saw; when someone
    else saved a split in between, the save is refused instead of silently overwriting theirs.
    """
    experiment = _locked(experiment)
    if expected_version is not None and expected_version != experiment.weights_version:
        raise ValidationError(
            "Someone else changed the traffic split while you were editing it. "
            "Reload to see their split, then make your change again.",
            code="conflict",
        )
    _require_status(experiment, {Status.DRAFT, Status.RUNNING}, "the split can change")
    variants = list(experiment.variants.order_by("-is_control", "key"))
    clean = _clean_weights(weights, [v.key for v in variants])
    before = {v.key: v.weight for v in variants}
    if clean == before:
        return experiment
    for variant in variants:
        if variant.weight != clean[variant.key]:
            variant.weight = clean[variant.key]
            variant.save(update_fields=["weight"])
    experiment.weights_version += 1
    experiment.save(update_fields=["weights_version"])
    audit_record(
        actor=user, action="experiment.weights", obj=experiment, before=before, after=clean
    )
    return experiment


@transaction.atomic
def variant_pause(*, experiment: Experiment, variant_key: str, reason: str, user=None) -> Variant:
    """Send a variant's traffic to the control, remembering its weight for a resume.

    Used by the guardrail job; pausing a variant that is already paused changes nothing.
    """
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "variants can be paused")
    variants = {v.key: v for v in experiment.variants.all()}
    variant, control = variants.get(variant_key), next(v for v in variants.values() if v.is_control)
    if variant is None or variant.is_control:
        raise ValidationError("Only a variant other than the control can be paused.")
    if variant.weight == 0:
        return variant
    before = {v.key: v.weight for v in variants.values()}
    variant.paused_weight, variant.paused_reason = variant.weight, reason
    control.weight, variant.weight = control.weight + variant.weight, 0
    variant.save(update_fields=["weight", "paused_weight", "paused_reason"])
    control.save(update_fields=["weight"])
    experiment.weights_version += 1
    experiment.save(update_fields=["weights_version"])
    audit_record(
        actor=user,
        action="variant.pause",
        obj=experiment,
        reason=reason,
        before=before,
        after={v.key: v.weight for v in variants.values()},
    )
    return variant


@transaction.atomic
def variant_resume(*, experiment: Experiment, variant_key: str, user=None) -> Variant:
    """Give a paused variant its weight back, taken from the control."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "variants can be resumed")
    variants = {v.key: v for v in experiment.variants.all()}
    variant, control = variants.get(variant_key), next(v for v in variants.values() if v.is_control)
    if variant is None or variant.paused_weight is None:
        raise ValidationError("That variant was not paused automatically; set its weight instead.")
    if control.weight < variant.paused_weight:
        raise ValidationError(
            f"The control has {control.weight}% left, less than the {variant.paused_weight}% "
            f"{variant.name} had; set the split by hand."
        )
    before = {v.key: v.weight for v in variants.values()}
    control.weight -= variant.paused_weight
    variant.weight, variant.paused_weight, variant.paused_reason = variant.paused_weight, None, ""
    variant.save(update_fields=["weight", "paused_weight", "paused_reason"])
    control.save(update_fields=["weight"])
    experiment.weights_version += 1
    experiment.save(update_fields=["weights_version"])
    audit_record(
        actor=user,
        action="variant.resume",
        obj=experiment,
        before=before,
        after={v.key: v.weight for v in variants.values()},
    )
    return variant


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
    if sum(v.weight for v in variants) != 100:
        raise ValidationError("Traffic weights must add up to 100% before starting.")
    if sum(1 for v in variants if v.weight > 0) < 2:
        raise ValidationError(
            "At least two variants need traffic (a weight above 0%) to compare anything."
        )
    other = Experiment.objects.filter(agent=experiment.agent, status=Status.RUNNING).first()
    if other is not None:
        raise ValidationError(
            f"“{other.name}” is already running on {experiment.agent.name}; "
            "stop it first (one experiment per agent at a time)."
        )
    experiment.status = Status.RUNNING
    experiment.started_at = timezone.now()
    try:
        with transaction.atomic():
            experiment.save(update_fields=["status", "started_at"])
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
        after={"status": Status.RUNNING},
    )
    return experiment


@transaction.atomic
def experiment_stop(*, experiment: Experiment, user=None) -> Experiment:
    """Send all traffic back to the control prompt and freeze the results."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "it can be stopped")
    experiment.status = Status.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at"])
    _queue_after_commit("results.freeze", experiment.pk)
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
    agent = Agent.objects.select_for_update().get(pk=experiment.agent_id)
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
    return experiment
