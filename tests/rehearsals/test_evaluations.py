"""Whole evaluations against the scripted server: the gate, the cache, errors, the cost cap."""

import threading

import pytest
from scipy import stats as sps

from apps.audit.models import AuditEntry
from apps.rehearsals.models import Conversation, Evaluation
from apps.rehearsals.outcomes import EvaluationResults
from apps.rehearsals.services import evaluation_freshness, evaluation_run
from tests.rehearsals.helpers import ALSO_GOOD, DATES, FORGETFUL, GOOD, dental_agent, evaluate

pytestmark = pytest.mark.django_db(transaction=False)


def _shares(evaluation, arm):
    """Per-scenario pass shares recomputed from the stored conversations, by hand."""
    shares = []
    for date in DATES:
        rows = Conversation.objects.filter(
            evaluation=evaluation, arm=arm, scenario_name=f"Booking on {date}"
        ).exclude(overall="error")
        shares.append(sum(r.overall == "pass" for r in rows) / rows.count())
    return shares


def test_the_gate_fails_a_variant_that_forgets_to_ask_for_the_date(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    assert evaluation.status == "done" and evaluation.gate == "failed"
    results = EvaluationResults.from_json(evaluation.results)
    assert _shares(evaluation, "control") == [1.0, 1.0, 1.0]
    assert _shares(evaluation, "variant") == [0.0, 0.0, 0.0]
    assert results.interval.mean == -1.0 and results.interval.lower == -1.0
    rates = {(c.label, c.arm): c.rate for c in results.checks}
    assert rates[("fact: March 3", "variant")] == 0.0
    assert rates[("forbidden: next free slot", "variant")] == 0.0
    assert rates[("judge: The agent asked which date the caller wants.", "control")] == 1.0
    failing = Conversation.objects.filter(evaluation=evaluation, arm="variant").first()
    said = failing.transcript[failing.failing_turns[0]]
    assert said["speaker"] == "agent" and "next free slot" in said["text"]
    assert evaluation.conversations.count() == 2 * 3 * 3
    assert AuditEntry.objects.filter(action="evaluation.start", object_id=str(evaluation.pk))


def test_the_gate_passes_a_variant_as_good_as_control(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    assert evaluation.status == "done" and evaluation.gate == "passed"
    results = EvaluationResults.from_json(evaluation.results)
    assert results.overall_rate("variant") == results.overall_rate("control") == 1.0
    control, variant = _shares(evaluation, "control"), _shares(evaluation, "variant")
    assert (results.interval.lower, results.interval.upper) == (0.0, 0.0)
    assert results.interval.mean == pytest.approx(sum(variant) / 3 - sum(control) / 3)
    transcript = evaluation.conversations.filter(arm="variant").first().transcript
    assert transcript[-2]["text"].startswith("You are booked for")


def test_the_interval_is_scipys_paired_t_interval_on_the_stored_shares(
    sim, operator, django_capture_on_commit_callbacks
):
    """One scenario's judge check fails on both arms, one only on the variant: uneven shares."""
    agent = dental_agent(operator)
    sim.judge_needs = "march 3"  # only the March 3 scenario's transcript says it
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    control, variant = _shares(evaluation, "control"), _shares(evaluation, "variant")
    results = EvaluationResults.from_json(evaluation.results)
    expected = sps.ttest_rel(variant, control).confidence_interval(0.95)
    assert results.interval.lower == pytest.approx(expected.low)
    assert results.interval.upper == pytest.approx(expected.high)


def test_a_second_run_of_the_same_comparison_plays_nothing_again(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    first = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    asked = len(sim.requests)
    second = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    assert len(sim.requests) == asked and asked > 0
    assert second.status == "done" and second.cost_usd == 0.0 and first.cost_usd > 0
    assert set(second.conversations.values_list("reused", flat=True)) == {True}
    assert second.results["interval"] == first.results["interval"]


def test_changing_a_scenario_plays_that_scenario_again_and_only_it(
    sim, operator, django_capture_on_commit_callbacks
):
    from apps.rehearsals.services import scenario_update

    agent = dental_agent(operator)
    evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    scenario_update(scenario=agent.scenarios.first(), data={"max_turns": 10}, user=operator)
    agents_before = sim.count("agent")
    evaluation = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    assert evaluation.conversations.filter(reused=False).count() == 2 * 3  # 2 arms x 3 plays
    assert sim.count("agent") - agents_before == 2 * 3 * 3  # three agent turns in each


def test_a_hanging_endpoint_is_an_error_not_a_fail(
    sim, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_TIMEOUT_SECONDS = 0.3
    agent = dental_agent(operator, dates=DATES[:2])
    evaluation = evaluate(
        agent, GOOD + " [hang]", django_capture_on_commit_callbacks, operator, plays=1
    )
    variant = evaluation.conversations.filter(arm="variant")
    assert {c.overall for c in variant} == {"error"}
    assert all("no answer within 0.3 s" in c.error for c in variant)
    results = EvaluationResults.from_json(evaluation.results)
    assert results.errors == 2 and all(s.variant_played == 0 for s in results.scenarios)
    assert not any(c.failed for c in results.checks)  # nothing counted as a fail
    assert evaluation.gate == "failed"  # nothing comparable: the gate fails closed


def test_a_malformed_reply_is_an_error_not_a_fail(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, GOOD + " [garble]", django_capture_on_commit_callbacks, operator)
    variant = evaluation.conversations.filter(arm="variant")
    assert {c.overall for c in variant} == {"error"}
    assert all("not a verdict" in c.error and "Bad gateway" in c.error for c in variant)
    results = EvaluationResults.from_json(evaluation.results)
    assert {c.failed for c in results.checks if c.arm == "variant"} == set()
    assert results.errors == 9 and evaluation.status == "done"


def test_an_endpoint_refusing_the_key_fails_the_run_with_its_reason(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, GOOD + " [refuse]", django_capture_on_commit_callbacks, operator)
    assert evaluation.status == "failed" and evaluation.gate == "failed"
    assert "Invalid API key" in evaluation.error


def test_the_cost_cap_stops_the_run(sim, operator, settings, django_capture_on_commit_callbacks):
    settings.SIMULATION_CONCURRENCY = 1
    settings.SIMULATION_USD_PER_MILLION_INPUT_TOKENS = 10_000.0  # 100 tokens in = US$1
    settings.SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS = 0.0
    agent = dental_agent(operator)
    evaluation = evaluate(
        agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator, cost_cap_usd=8.0
    )
    assert evaluation.status == "stopped" and evaluation.gate == "failed"
    assert "cost cap" in evaluation.error
    # six requests per conversation (three agent and three caller turns) and one judge
    # verdict, 100 tokens in each: US$7 each
    assert evaluation.conversations.count() == 2 and evaluation.cost_usd == pytest.approx(14.0)
    assert len(sim.requests) == 2 * 6 + 2


def test_no_more_than_the_concurrency_limit_talk_to_the_endpoint_at_once(
    sim, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_CONCURRENCY = 2
    sim.delay = 0.05
    agent = dental_agent(operator)
    evaluation = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    assert evaluation.status == "done"
    assert sim.in_flight_max == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_one_evaluation_play_it_once(sim, operator):
    from django.db import transaction

    from apps.agents.services import prompt_version_create
    from apps.rehearsals.services import evaluation_start
    from config.celery import app

    agent = dental_agent(operator)
    with transaction.atomic():
        variant = prompt_version_create(agent=agent, body=ALSO_GOOD, user=operator)

    app.conf.task_always_eager = False  # write the outbox row, run it by hand below
    try:
        evaluation = evaluation_start(
            agent=agent,
            variant_prompt=variant,
            variant_config={},
            control_prompt=agent.current_version,
            control_config={},
            user=operator,
        )
    finally:
        app.conf.task_always_eager = True
        app.control.purge()

    def run():
        from django.db import connection

        evaluation_run(evaluation=evaluation)
        connection.close()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    evaluation.refresh_from_db()
    assert evaluation.status == "done"
    assert evaluation.conversations.count() == 18 and sim.count("agent") == 18 * 3


def test_freshness_is_missing_then_current_then_stale(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    current = agent.current_version

    def freshness(body_sha):
        return evaluation_freshness(
            agent=agent,
            variant_sha256=body_sha,
            variant_config=agent.config,
            control_sha256=current.sha256,
            control_config=agent.config,
        )[0]

    assert freshness("0" * 64) == "missing"
    evaluation = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    assert freshness(evaluation.variant_sha256) == "current"
    assert freshness("0" * 64) == "stale"
    assert Evaluation.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"plays": 0}, "plays"),
        ({"plays": 10**9}, "plays"),
        ({"margin": float("nan")}, "margin"),
        ({"margin": -0.1}, "margin"),
        ({"cost_cap_usd": float("inf")}, "cost_cap_usd"),
        ({"cost_cap_usd": 0}, "cost_cap_usd"),
        ({"variant_config": {"temperature": float("nan")}}, "config"),
        ({"variant_config": {"model": "a\x00b"}}, "config"),
    ],
)
def test_start_refuses_bad_numbers_and_configs_and_queues_nothing(sim, operator, kwargs, said):
    from django.core.exceptions import ValidationError

    from apps.outbox.models import Message
    from apps.rehearsals.services import evaluation_start

    agent = dental_agent(operator)
    args = {
        "agent": agent,
        "variant_prompt": agent.current_version,
        "variant_config": {},
        "control_prompt": agent.current_version,
        "control_config": {},
        "user": operator,
    }
    with pytest.raises(ValidationError) as refused:
        evaluation_start(**{**args, **kwargs})
    assert said in refused.value.message_dict
    assert not Evaluation.objects.exists() and not Message.objects.exists()


def test_start_refuses_an_agent_without_scenarios_or_endpoint_or_a_foreign_prompt(
    sim, operator, settings
):
    from django.core.exceptions import ValidationError

    from apps.rehearsals.services import evaluation_start

    bare, agent = dental_agent(operator, dates=()), dental_agent(operator)

    def start(on, prompt):
        return evaluation_start(
            agent=on,
            variant_prompt=prompt,
            variant_config={},
            control_prompt=prompt,
            control_config={},
            user=operator,
        )

    with pytest.raises(ValidationError, match="no scenarios yet"):
        start(bare, bare.current_version)
    with pytest.raises(ValidationError, match="versions of this agent"):
        start(agent, bare.current_version)
    settings.SIMULATION_BASE_URL = ""
    with pytest.raises(ValidationError, match="No simulation endpoint"):
        start(agent, agent.current_version)
    assert not Evaluation.objects.exists()
