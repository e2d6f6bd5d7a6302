"""Fill an empty Switchboard with demo people, agents, experiments and calls."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import user_set_role
from apps.agents.models import Agent
from apps.agents.services import agent_create, agent_prompt_update
from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import (
    experiment_create,
    experiment_start,
    experiment_stop,
    variant_fork,
    weights_set,
)

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

LINES = {
    "agent": [
        "Harbor Dental, this is Ava. How can I help?",
        "I can offer Tuesday at 9:30.",
        "You're booked. Anything else?",
        "Thanks for calling, goodbye.",
    ],
    "caller": ["Hi, I need a cleaning.", "Tuesday works.", "No, that's all.", "Could it be later?"],
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
        )
        b = variant_fork(experiment=warm, user=operator, name="Warm thanks", body=FRONT_DESK_WARM)
        weights_set(experiment=warm, weights={"control": 50, "b": 50}, user=operator)
        experiment_start(experiment=warm, user=operator)
        # The demo pretends the test has run for two weeks, as its calls do.
        Experiment.objects.filter(pk=warm.pk).update(started_at=timezone.now() - timedelta(days=14))
        self._calls(desk, warm, {warm.control: 0.22, b: 0.27}, count=800)

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
        self._calls(sales, budget, {budget.control: 0.18, budget_b: 0.2}, count=400, prefix="sales")
        self._verdicts(budget, {budget.control.pk: 0.35, budget_b.pk: 0.55})
        experiment_stop(experiment=budget, user=operator)

    def _verdicts(self, experiment, pass_rates):
        """Stored judge verdicts, so the custom-goal demo works with no LLM at hand.

        The demo seeds every layer; the judge is the one above calls, hence the late import.
        """
        from apps.judging.models import Judgement
        from apps.judging.prompt import JUDGE_PROMPT_VERSION
        from apps.judging.services import criterion_current

        rng = random.Random(11)
        experiment.refresh_from_db()  # its judge was set after it was created
        criterion = criterion_current(experiment=experiment)
        reasons = {
            "pass": "The agent asked about budget and timing politely and early.",
            "fail": "The agent never asked about the budget.",
            "unknown": "The call ended before the topic could come up.",
        }
        judgements = []
        for call in experiment.calls.all():
            roll = rng.random()
            verdict = (
                "unknown"
                if roll > 0.95
                else "pass"
                if roll < pass_rates[call.variant_id]
                else "fail"
            )
            judgements.append(
                Judgement(
                    call=call,
                    criterion=criterion,
                    model=experiment.judge_model,
                    prompt_version=JUDGE_PROMPT_VERSION,
                    verdict=verdict,
                    reasoning=reasons[verdict],
                )
            )
        Judgement.objects.bulk_create(judgements)

    def _calls(self, agent, experiment, rates, count, prefix="demo"):
        rng = random.Random(7)
        now = timezone.now()
        variants = list(rates)
        calls = []
        for i in range(count):
            variant = variants[i % len(variants)]
            started = now - timedelta(minutes=rng.randint(5, 60 * 24 * 14))
            turns = [
                {"speaker": speaker, "text": rng.choice(LINES[speaker]), "start_seconds": t * 6.5}
                for t, speaker in enumerate(["agent", "caller", "agent", "caller", "agent"])
            ]
            calls.append(
                Call(
                    agent=agent,
                    call_id=f"{prefix}-{i:05d}",
                    experiment=experiment,
                    variant=variant,
                    caller=f"+1555{rng.randint(0, 9_999_999):07d}",
                    started_at=started,
                    duration_seconds=round(rng.lognormvariate(4.6, 0.5), 1),
                    converted=rng.random() < rates[variant],
                    sentiment=round(max(-1.0, min(1.0, rng.gauss(0.3, 0.35))), 2),
                    transferred=rng.random() < 0.08,
                    completed=rng.random() < 0.93,
                    transcript=turns,
                )
            )
        Call.objects.bulk_create(calls)
