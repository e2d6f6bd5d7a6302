"""Issue 7 end to end: a custom-goal experiment with a real worker, Redis and a judge server.

Routers (simulate_traffic, over HTTP) report calls; ingestion queues them for the judge; a
Celery worker on Redis asks the local chat-completions server; results show the pass rate
per variant with judge errors apart; a guardrail broken on purpose pauses a variant.
"""

from io import StringIO

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.db.models import Count

from apps.assignments import table
from apps.experiments.models import Variant
from apps.experiments.services import experiment_start
from apps.judging.models import Judgement
from apps.results.tasks import refresh_running
from config.celery import app
from tests.factories import make_agent, make_user
from tests.judging.chat_server import ChatServer
from tests.judging.helpers import custom_experiment, point_judge_at
from tests.results.helpers import add_calls
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_verdicts_arrive_the_pass_rate_shows_and_a_broken_guardrail_pauses(
    live_server, router_key, settings
):
    with ChatServer() as judge:
        point_judge_at(settings, judge)
        for _ in range(4):
            judge.content("this is not JSON")  # judge errors: counted apart, never a fail
        for _ in range(10):
            judge.answer("fail", "Never asked about the budget.")
        user = make_user("ops", role="operator")
        experiment = custom_experiment(agent=make_agent(user=user), user=user)
        experiment_start(experiment=experiment, user=user)
        app.conf.task_always_eager = False
        try:
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
                table.reset()
                call_command(
                    "simulate_traffic",
                    "--agent",
                    experiment.agent.slug,
                    "--calls",
                    "40",
                    "--callers",
                    "1000000",
                    "--seed",
                    "2",
                    "--url",
                    live_server.url,
                    "--key",
                    router_key,
                    stdout=StringIO(),
                )
                assert wait_for(lambda: Judgement.objects.count() == 40)
                verdicts = dict(Judgement.objects.values_list("verdict").annotate(n=Count("id")))
                # Identical transcripts are judged once (the cache), so a queued "fail"
                # may stand for several calls; errors are never reused.
                assert verdicts["error"] == 4 and verdicts["fail"] >= 10
                assert verdicts["pass"] + verdicts["fail"] == 36

                add_calls(
                    experiment,
                    {"control": 0.2, "b": 0.2},
                    per_variant=1500,
                    transferred={"control": 0.05, "b": 0.4},
                    prefix="broken",
                )
                refresh_running.delay()
                assert wait_for(
                    lambda: Variant.objects.get(experiment=experiment, key="b").weight == 0
                )
        finally:
            app.conf.task_always_eager = True
    snapshot = experiment.snapshots.order_by("-computed_at").first()
    judged = snapshot.data["judging"]
    assert sum(c.get("error", 0) for c in judged.values()) == 4
    for row in snapshot.data["variants"]:
        counts = judged.get(row["key"], {})
        decided = counts.get("pass", 0) + counts.get("fail", 0)
        assert row["units"] == decided  # errors and unknowns are left out of the goal
        assert row["mean"] == pytest.approx(counts.get("pass", 0) / decided)
    assert "transfer rate" in Variant.objects.get(experiment=experiment, key="b").paused_reason
