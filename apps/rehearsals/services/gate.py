"""Writes around the start gate: rehearse a variant, override the gate, set the margin.

experiment_rehearse(*, experiment, variant_key, user)      -> Evaluation (queued)
experiment_gate_override(*, experiment, user, reason)       -> GateOverride (managers only)
rehearsal_margin_set(*, agent, margin, user)                -> Agent
"""

import math

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import MANAGER
from apps.agents.models import MAX_REHEARSAL_MARGIN, Agent
from apps.agents.services import agent_lock
from apps.audit.services import audit_record, person
from apps.experiments.models import Experiment, Status
from apps.rehearsals.gate import (
    effective_config,
    gate_fingerprint,
    gate_override_current,
    variant_rehearsals,
)
from apps.rehearsals.models import Evaluation, GateOverride
from apps.rehearsals.services.evaluations import evaluation_start
from config.inputs import has_nul

MAX_OVERRIDE_REASON = 2000


def experiment_rehearse(*, experiment: Experiment, variant_key: str, user=None) -> Evaluation:
    """Queue the variant's evaluation against the control, with their effective configs
    and the agent's margin."""
    variants = list(experiment.variants.select_related("prompt_version"))
    variant = next((v for v in variants if v.key == variant_key and not v.is_control), None)
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” to rehearse here.")
    control = next(v for v in variants if v.is_control)
    return evaluation_start(
        agent=experiment.agent,
        experiment=experiment,
        variant_prompt=variant.prompt_version,
        variant_config=effective_config(experiment, variant),
        control_prompt=control.prompt_version,
        control_config=effective_config(experiment, control),
        margin=experiment.agent.rehearsal_margin,
        user=user,
    )


def _clean_reason(reason) -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError({"reason": "Write why the experiment may start without passing."})
    if has_nul(reason):
        raise ValidationError({"reason": "Contains a NUL character or a lone surrogate."})
    if len(reason) > MAX_OVERRIDE_REASON:
        raise ValidationError(
            {"reason": f"Is {len(reason):,} characters; the limit is {MAX_OVERRIDE_REASON:,}."}
        )
    return reason


@transaction.atomic
def experiment_gate_override(*, experiment: Experiment, user, reason: str) -> GateOverride:
    """Let a draft start although its rehearsals block, for exactly the prompts and configs
    it compares now. Managers only; the reason and the overridden state are audited."""
    if getattr(person(user), "role", None) != MANAGER:
        raise ValidationError("Only a manager may override the rehearsal gate.", code="role")
    reason = _clean_reason(reason)
    agent_lock(experiment.agent_id)  # one override (or start) of the agent's at a time
    experiment = Experiment.objects.select_related("agent").get(pk=experiment.pk)
    if experiment.status != Status.DRAFT:
        raise ValidationError("Only a draft's gate can be overridden; this one has started.")
    variants = list(experiment.variants.select_related("prompt_version"))
    blocking = [row for row in variant_rehearsals(experiment, variants) if row.blocks]
    if not blocking:
        raise ValidationError("Nothing to override: the rehearsal gate lets this draft start.")
    if gate_override_current(experiment, variants) is not None:
        raise ValidationError("A manager already overrode the gate for these prompts.")
    state = [
        {"variant": r.variant.key, "state": r.state, "evaluation": r.evaluation and r.evaluation.pk}
        for r in blocking
    ]
    override = GateOverride.objects.create(
        experiment=experiment,
        fingerprint=gate_fingerprint(experiment, variants),
        reason=reason,
        gate_state=state,
        created_by=person(user),
    )
    audit_record(
        actor=user,
        action="experiment.gate_override",
        obj=experiment,
        reason=reason,
        before={"gate": state},
        after={"fingerprint": override.fingerprint},
    )
    return override


@transaction.atomic
def rehearsal_margin_set(*, agent: Agent, margin, user=None) -> Agent:
    """How much worse than control (a share: 0.05 = 5 points) a rehearsal may come out."""
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not math.isfinite(margin)
        or not 0 <= margin <= MAX_REHEARSAL_MARGIN
    ):
        raise ValidationError(
            {
                "rehearsal_margin": f"Must be a share from 0 to {MAX_REHEARSAL_MARGIN} "
                "(0.05 = 5 points)."
            }
        )
    agent = agent_lock(agent.pk)
    before = agent.rehearsal_margin
    agent.rehearsal_margin = float(margin)
    agent.save(update_fields=["rehearsal_margin"])
    audit_record(
        actor=user,
        action="agent.rehearsal_margin",
        obj=agent,
        before={"margin": before},
        after={"margin": agent.rehearsal_margin},
    )
    return agent
