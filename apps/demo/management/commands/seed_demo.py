"""Fill an empty Switchboard with demo people, agents, experiments and calls.

In apps.demo, at the top of the import graph: it seeds every layer, the judge included."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import user_set_role
from apps.agents.models import Agent
from apps.agents.services import agent_create, agent_prompt_update
from apps.audit.models import AuditEntry
from apps.calls.models import Call
from apps.demo.conversations import (
    caller_name,
    caller_number,
    how_it_ran,
    post_call_fields,
    script_for,
    timed,
)
from apps.experiments.models import Experiment
from apps.experiments.services import (
    experiment_create,
    experiment_start,
    experiment_stop,
    variant_fork,
    weights_set,
)
from apps.judging.models import Judgement
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.judging.services import criterion_current

DEMO_PASSWORD = "switchboard-demo"

FRONT_DESK_V1 = """You are the front desk of Harbor Dental. Greet the caller, find out why they \
are calling, and book, move or cancel appointments. Be brief and polite."""
FRONT_DESK_V2 = """You are the front desk of Harbor Dental. Greet {{caller_name}} by name when \
you know it, find out why they are calling, and book, move or cancel appointments.
Offer the earliest free slot first. Be brief and polite; never give medical advice."""
FRONT_DESK_WARM = """You are the front desk of Harbor Dental. Greet {{caller_name}} warmly by name \
when you know it and thank them for calling, find out why they are calling, and book, move or \
cancel appointments.
Offer the earliest free slot first. Be brief and polite; never give medical advice."""
COLLECTIONS = """You call customers of Northwind Energy about an overdue bill. Confirm you are \
speaking to {{caller_name}}, state the amount due, and offer a payment plan. Stay calm and \
respectful; end the call if the person asks you to."""
SALES = """You call small-business owners who asked for a quote for Lumen POS. Learn what they \
sell, how many tills they run, and when they want to switch. Book a demo if they are interested."""
SALES_BUDGET = SALES + "\nAsk about their budget and timeline early, without being pushy."

# How many calls the demo makes per agent; README.md says the total (tests/demo/test_demo.py).
FRONT_DESK_CALLS, SALES_CALLS, COLLECTIONS_CALLS = 800, 400, 300
JUDGE_REASONS = {
    "pass": "The agent asked about the budget and the timeline politely, and the owner "
    "answered both.",
    "fail": "The agent asked when they want to switch but never asked about the budget.",
    "unknown": "The owner could not talk; the call ended before the topic could come up.",
}

PEOPLE = [("viewer", "viewer"), ("operator", "operator"), ("manager", "manager")]


class Command(BaseCommand):
    help = "Create demo people, agents, experiments and calls (does nothing twice)."

    def handle(self, *args, **options):
        self._people()
        if Agent.objects.filter(slug="front-desk").exists():
            self.stdout.write("Demo agents exist already; left as they are.")
            return
        with transaction.atomic():
            self._agents_and_experiments()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {Call.objects.count():,} calls."))

    def _people(self):
        User = get_user_model()
        for username, role in PEOPLE:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user_set_role(user=user, role=role)
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()

    def _agents_and_experiments(self):
        operator = get_user_model().objects.get(username="operator")
        now = timezone.now()
        desk = agent_create(
            name="Front desk",
            slug="front-desk",
            prompt=FRONT_DESK_V1,
            user=operator,
            description="Answers Harbor Dental's main number.",
            config={"model": "gpt-4o-mini", "voice": "alloy", "temperature": 0.4},
        )
        agent_prompt_update(
            agent=desk, body=FRONT_DESK_V2, user=operator, note="Greet by name; earliest slot first"
        )
        warm = experiment_create(
            agent=desk,
            name="Warmer greeting",
            goal_kind="conversion",
            user=operator,
            description="Thanking callers by name should make more of them book, because the "
            "call feels personal from the first sentence.",
            guardrails=["transfer_rate"],
            min_lift=0.2,  # a greeting is worth changing for a fifth more bookings, not less
        )
        b = variant_fork(experiment=warm, user=operator, name="Warm thanks", body=FRONT_DESK_WARM)
        weights_set(experiment=warm, weights={"control": 50, "b": 50}, user=operator)
        experiment_start(experiment=warm, user=operator)
        # The demo pretends the test has run for two weeks, as its calls do.
        _backdate(warm, started=now - timedelta(days=14))
        self._calls(desk, warm, {warm.control: 0.22, b: 0.27}, FRONT_DESK_CALLS, days=(14, 0))

        collections = agent_create(
            name="Collections",
            slug="collections",
            prompt=COLLECTIONS,
            user=operator,
            config={"model": "claude-haiku", "voice": "verse", "temperature": 0.2},
        )
        experiment_create(
            agent=collections,
            name="Shorter calls",
            goal_kind="duration",
            user=operator,
            goal_direction="lower",
            description="Stating the amount in the first sentence should "
            "shorten calls without hurting payments.",
        )
        # Calls before any experiment: the planner of the draft reads this agent's volume.
        self._calls(collections, None, {None: 0.3}, COLLECTIONS_CALLS, days=(30, 0))

        sales = agent_create(
            name="Sales outbound",
            slug="sales-outbound",
            prompt=SALES,
            user=operator,
            config={"model": "gpt-4o", "voice": "echo"},
        )
        budget = experiment_create(
            agent=sales,
            name="Budget question early",
            goal_kind="custom",
            user=operator,
            goal_criteria="The agent learns the caller's budget and timeline without being pushy.",
            description="Asking about budget early should qualify leads faster.",
        )
        # The demo's judge is a local Ollama; its verdicts are stored, so no call is needed.
        Experiment.objects.filter(pk=budget.pk).update(
            judge_base_url="http://127.0.0.1:11434/v1", judge_model="llama3.1"
        )
        variant_fork(experiment=budget, user=operator, name="Budget early", body=SALES_BUDGET)
        weights_set(experiment=budget, weights={"control": 50, "b": 50}, user=operator)
        experiment_start(experiment=budget, user=operator)
        budget_b = budget.variants.get(key="b")
        # Which calls the judge passes is drawn first, so that each call's words match it.
        verdicts = self._verdict_draws(budget, {budget.control: 0.35, budget_b: 0.55})
        self._calls(
            sales,
            budget,
            {budget.control: 0.18, budget_b: 0.2},
            SALES_CALLS,
            days=(15, 1),
            prefix="sales",
            judged=verdicts,
        )
        self._verdicts(budget, verdicts)
        experiment_stop(experiment=budget, user=operator)
        _backdate(budget, started=now - timedelta(days=15), stopped=now - timedelta(days=1))

    def _verdict_draws(self, experiment, pass_rates) -> list[str]:
        """The judge's verdict for each of the experiment's calls, in the order _calls makes
        them (alternating variants): pass, fail, or unknown for one call in twenty."""
        rng, variants = random.Random(11), list(pass_rates)
        draws = []
        for i in range(SALES_CALLS):
            roll = rng.random()
            rate = pass_rates[variants[i % len(variants)]]
            draws.append("unknown" if roll > 0.95 else "pass" if roll < rate else "fail")
        return draws

    def _verdicts(self, experiment, verdicts: list[str]):
        """Stored judge verdicts, so the custom-goal demo works with no LLM at hand."""
        experiment.refresh_from_db()  # its judge was set after it was created
        criterion = criterion_current(experiment=experiment)
        calls = experiment.calls.order_by("call_id")
        Judgement.objects.bulk_create(
            Judgement(
                call=call,
                criterion=criterion,
                model=experiment.judge_model,
                prompt_version=JUDGE_PROMPT_VERSION,
                verdict=verdict,
                reasoning=JUDGE_REASONS[verdict],
            )
            for call, verdict in zip(calls, verdicts, strict=True)
        )

    def _calls(self, agent, experiment, rates, count, *, days, prefix="demo", judged=None):
        """`count` calls of `agent` between `days[0]` and `days[1]` days ago, alternating
        over the variants of `rates` ({variant: conversion rate}; {None: rate} outside an
        experiment), each with a transcript in the agent's own words that matches its
        outcome (apps.demo.conversations)."""
        rng = random.Random(7)
        now = timezone.now()
        variants = list(rates)
        script = script_for(agent.slug)
        prefix = prefix if experiment else agent.slug
        calls = []
        for i in range(count):
            variant = variants[i % len(variants)]
            caller = caller_number(rng)
            extra = {"judged": judged[i]} if judged else {}
            call = script(
                rng,
                name=caller_name(caller),
                converted=rng.random() < rates[variant],
                variant=variant.key if variant else "",
                **extra,
            )
            transcript, seconds = timed(rng, call["lines"])
            started = now - timedelta(minutes=rng.randint(days[1] * 1440 + 5, days[0] * 1440))
            mood = rng.gauss(0.45 if call["converted"] else 0.05, 0.3)
            calls.append(
                Call(
                    agent=agent,
                    call_id=f"{prefix}-{i:05d}",
                    experiment=experiment,
                    variant=variant,
                    caller=caller,
                    started_at=started,
                    duration_seconds=seconds,
                    converted=call["converted"],
                    sentiment=round(max(-1.0, min(1.0, mood)), 2),
                    transferred=call["transferred"],
                    completed=call["completed"],
                    transcript=transcript,
                    fields=post_call_fields(rng, call),
                    **how_it_ran(rng, transcript, seconds, call),
                )
            )
        Call.objects.bulk_create(calls)


def _backdate(experiment, *, started, stopped=None):
    """Move an experiment's start (and stop) into the past, as its demo calls are: the
    experiment's dates, its first phase and the audit log's lines about it agree."""
    experiment.refresh_from_db()
    phases = [{**experiment.phases[0], "started_at": started.isoformat()}, *experiment.phases[1:]]
    Experiment.objects.filter(pk=experiment.pk).update(
        started_at=started, stopped_at=stopped, phases=phases
    )
    entries = AuditEntry.objects.filter(object_type="experiment", object_id=str(experiment.pk))
    entries.exclude(action="experiment.stop").update(created_at=started)
    if stopped is not None:
        entries.filter(action="experiment.stop").update(created_at=stopped)
