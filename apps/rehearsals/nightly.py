"""The nightly health check: each agent's current prompt played again on its scenarios.

nightlies_start_due(now) -> int   the beat's entry: claims tonight per agent (a NightlyCheck
                                  row, unique per agent and night, is the claim) and queues
                                  "rehearsals.nightly" for each new claim, through the outbox
nightly_finish(*, check)          runs the evaluation (kind "nightly": the variant arm only,
                                  never copied from the cache, since a changed model behind an
                                  unchanged configuration is what this looks for), stores the
                                  pass rate, and announces on the alert webhook, once, when it
                                  fell by more than the agent's margin since the last night
"""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.agents.models import Agent
from apps.audit.services import audit_record
from apps.rehearsals.models import Evaluation, Kind, NightlyCheck
from apps.rehearsals.services import evaluation_run
from config.celery import queue_after_commit

ACTOR = "nightly health check"


def nightlies_start_due(now: datetime | None = None) -> int:
    """Claim tonight for every agent with scenarios (from NIGHTLY_HOUR, local time)."""
    now = timezone.localtime(now or timezone.now())
    if now.hour < settings.NIGHTLY_HOUR or not settings.SIMULATION_BASE_URL:
        return 0
    agents = Agent.objects.filter(scenarios__isnull=False, current_version__isnull=False)
    return sum(nightly_claim(agent=a, night=now.date()) for a in agents.distinct())


def nightly_claim(*, agent: Agent, night) -> bool:
    """True when this call claimed the night (and queued its run); False when taken."""
    try:
        with transaction.atomic():
            check = NightlyCheck.objects.create(
                agent=agent, night=night, prompt=agent.current_version
            )
            config = dict(agent.config or {})
            check.evaluation = Evaluation.objects.create(
                agent=agent,
                kind=Kind.NIGHTLY,
                variant_prompt=agent.current_version,
                variant_sha256=agent.current_version.sha256,
                variant_config=config,
                control_prompt=agent.current_version,
                control_sha256=agent.current_version.sha256,
                control_config=config,
                scenario_ids=list(agent.scenarios.order_by("name").values_list("pk", flat=True)),
                plays=settings.NIGHTLY_PLAYS,
                margin=agent.rehearsal_margin,
                cost_cap_usd=float(settings.SIMULATION_COST_CAP_USD),
                created_by_label=ACTOR,
            )
            check.save(update_fields=["evaluation"])
            queue_after_commit("rehearsals.nightly", check.pk, what=f"nightly {check.pk}")
    except IntegrityError:  # another beat or worker claimed this night first
        return False
    return True


def pass_rate(evaluation: Evaluation) -> float | None:
    """Share of played (not errored) conversations that passed every check."""
    played = evaluation.conversations.exclude(overall__in=["error", ""])
    total = played.count()
    return played.filter(overall="pass").count() / total if total else None


def nightly_finish(*, check: NightlyCheck) -> NightlyCheck:
    evaluation = evaluation_run(evaluation=check.evaluation)
    with transaction.atomic():
        check = NightlyCheck.objects.select_for_update().select_related("agent").get(pk=check.pk)
        previous = (
            NightlyCheck.objects.filter(agent=check.agent, night__lt=check.night)
            .exclude(pass_rate=None)
            .order_by("-night")
            .first()
        )
        check.pass_rate = pass_rate(evaluation)
        check.previous_rate = previous.pass_rate if previous else None
        check.save(update_fields=["pass_rate", "previous_rate"])
        if _dropped(check) and _claim_announcement(check):
            _announce(check)
    return check


def _dropped(check: NightlyCheck) -> bool:
    if check.pass_rate is None or check.previous_rate is None:
        return False
    return check.previous_rate - check.pass_rate > check.agent.rehearsal_margin


def _claim_announcement(check: NightlyCheck) -> bool:
    now = timezone.now()
    claimed = NightlyCheck.objects.filter(pk=check.pk, announced_at=None).update(announced_at=now)
    return claimed == 1


def _announce(check: NightlyCheck) -> None:
    agent = check.agent
    text = (
        f"{agent.name}: tonight's rehearsal of the current prompt ({check.prompt.label}) passed "
        f"{check.pass_rate * 100:.0f}% of its simulated calls, down from "
        f"{check.previous_rate * 100:.0f}% the night before — more than the "
        f"{agent.rehearsal_margin * 100:.0f}-point margin. The prompt did not change; the model "
        "or a tool behind it may have. Read the rehearsal's failing conversations."
    )
    link = f"{settings.SITE_URL}{agent.get_absolute_url()}"
    queue_after_commit(
        "results.send_alert", text, link, f"Switchboard: {agent.name}'s nightly rehearsal dropped"
    )
    audit_record(actor=ACTOR, action="nightly.drop", obj=agent, after={"night": str(check.night)})
