"""Starting an evaluation, and reading whether one is current for what is compared.

evaluation_start(...)      validate, write the Evaluation (queued) and its outbox row in
                           one transaction; the run is queued on Celery after commit
evaluation_for(...)        the latest evaluation of exactly these prompts and configs
evaluation_freshness(...)  "missing" | "stale" | "current" for a variant and its control
"""

import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.agents.models import Agent, PromptVersion
from apps.agents.services import clean_config
from apps.audit.services import audit_record, person
from apps.experiments.models import Experiment
from apps.rehearsals.models import Evaluation, Kind
from config.celery import queue_after_commit

MAX_PLAYS = 20
MAX_COST_CAP_USD = 10_000.0
DEFAULT_MARGIN = 0.05


def _refuse_bad_numbers(plays, margin, cost_cap_usd) -> None:
    if isinstance(plays, bool) or not isinstance(plays, int) or not 1 <= plays <= MAX_PLAYS:
        raise ValidationError({"plays": f"Must be a whole number from 1 to {MAX_PLAYS}."})
    if not isinstance(margin, int | float) or not math.isfinite(margin) or not 0 <= margin <= 1:
        raise ValidationError({"margin": "Must be a share from 0 to 1 (0.05 = 5 points)."})
    if (
        not isinstance(cost_cap_usd, int | float)
        or not math.isfinite(cost_cap_usd)
        or not (0 < cost_cap_usd <= MAX_COST_CAP_USD)
    ):
        raise ValidationError(
            {"cost_cap_usd": f"Must be more than 0 and at most {MAX_COST_CAP_USD:,.0f} US$."}
        )


def _refuse_unrunnable(agent: Agent, prompts: list[PromptVersion], config: dict) -> None:
    if any(p.agent_id != agent.pk for p in prompts):
        raise ValidationError("Both prompts must be versions of this agent's prompt.")
    if not settings.SIMULATION_BASE_URL or not (config.get("model") or settings.SIMULATION_MODEL):
        raise ValidationError(
            "No simulation endpoint is set: set SIMULATION_BASE_URL and SIMULATION_MODEL "
            "(or JUDGE_BASE_URL and JUDGE_MODEL, which they default to)."
        )
    if not agent.scenarios.exists():
        raise ValidationError(
            f"{agent.name} has no scenarios yet; write one (or make one from a call) first."
        )


def evaluation_start(
    *,
    agent: Agent,
    variant_prompt: PromptVersion,
    variant_config: dict,
    control_prompt: PromptVersion,
    control_config: dict,
    user=None,
    experiment: Experiment | None = None,
    plays: int = 3,
    margin: float = DEFAULT_MARGIN,
    cost_cap_usd: float | None = None,
) -> Evaluation:
    """Queue a comparison of variant and control on every scenario of the agent.

    Configs are the effective ones (the agent's config with the variant's overrides): their
    "model" and "temperature" are what the simulated agent runs with.
    """
    variant_config, control_config = clean_config(variant_config), clean_config(control_config)
    cap = settings.SIMULATION_COST_CAP_USD if cost_cap_usd is None else cost_cap_usd
    _refuse_bad_numbers(plays, margin, cap)
    _refuse_unrunnable(agent, [variant_prompt, control_prompt], variant_config)
    if experiment is not None and experiment.agent_id != agent.pk:
        raise ValidationError("The experiment belongs to another agent.")
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            agent=agent,
            experiment=experiment,
            variant_prompt=variant_prompt,
            variant_sha256=variant_prompt.sha256,
            variant_config=variant_config,
            control_prompt=control_prompt,
            control_sha256=control_prompt.sha256,
            control_config=control_config,
            scenario_ids=list(agent.scenarios.order_by("name").values_list("pk", flat=True)),
            plays=plays,
            margin=margin,
            cost_cap_usd=float(cap),
            created_by=person(user),
            created_by_label=str(user or "system")[:200],
        )
        audit_record(
            actor=user, action="evaluation.start", obj=evaluation, after=_summary(evaluation)
        )
        queue_after_commit("rehearsals.run", evaluation.pk, what=f"evaluation {evaluation.pk}")
    return evaluation


def _summary(evaluation: Evaluation) -> dict:
    return {
        "variant": evaluation.variant_prompt.label,
        "control": evaluation.control_prompt.label,
        "scenarios": len(evaluation.scenario_ids),
        "plays": evaluation.plays,
        "cost_cap_usd": evaluation.cost_cap_usd,
    }


def evaluation_for(
    *,
    agent: Agent,
    variant_sha256: str,
    variant_config: dict,
    control_sha256: str,
    control_config: dict,
) -> Evaluation | None:
    """The latest evaluation that compared exactly these prompts and configurations."""
    return (
        agent.evaluations.filter(
            kind=Kind.COMPARISON,
            variant_sha256=variant_sha256,
            control_sha256=control_sha256,
            variant_config=variant_config,
            control_config=control_config,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def evaluation_freshness(
    *,
    agent: Agent,
    variant_sha256: str,
    variant_config: dict,
    control_sha256: str,
    control_config: dict,
    experiment: Experiment | None = None,
) -> tuple[str, Evaluation | None]:
    """("current", e) when an evaluation compared exactly these prompts and configurations;
    ("stale", latest) when the experiment (or, without one, the agent) was evaluated before
    but not on these (a prompt or config changed since); ("missing", None) otherwise.
    Scenarios changed since do not make it stale: the gate asks about prompt and config."""
    found = evaluation_for(
        agent=agent,
        variant_sha256=variant_sha256,
        variant_config=variant_config,
        control_sha256=control_sha256,
        control_config=control_config,
    )
    if found is not None:
        return "current", found
    earlier = experiment.evaluations if experiment is not None else agent.evaluations
    latest = earlier.filter(kind=Kind.COMPARISON).order_by("-created_at", "-id").first()
    return ("stale", latest) if latest is not None else ("missing", None)
