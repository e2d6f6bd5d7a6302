"""The judging services against a real chat-completions server on localhost."""

import pytest
from celery import Celery
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.judging.client import JudgeRateLimited, JudgeUnavailable
from apps.judging.models import Criterion, HumanVerdict, Judgement
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.judging.services import (
    calibration,
    calls_to_judge,
    criterion_current,
    criterion_update,
    human_verdict_set,
    judge_call,
    judge_call_failed,
    judge_model_family,
    judging_resume,
    same_family,
)
from config.celery import app
from tests.factories import make_experiment, make_user
from tests.judging.chat_server import ChatServer
from tests.judging.helpers import (
    CRITERION,
    JUDGE_KEY,
    JUDGE_MODEL,
    add_call,
    custom_experiment,
    point_judge_at,
    said,
)
from tests.proxy import Proxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings):
    with ChatServer() as server:
        point_judge_at(settings, server)
        yield server


@pytest.fixture
def experiment(agent, operator):
    return custom_experiment(agent=agent, user=operator)


def judge(call):
    criterion = criterion_current(experiment=call.experiment)
    return judge_call(call_id=call.pk, criterion_id=criterion.pk)


# Criteria


def test_the_first_criterion_is_made_from_the_goal(experiment):
    criterion = criterion_current(experiment=experiment)
    assert (criterion.version, criterion.text) == (1, CRITERION)
    assert criterion_current(experiment=experiment) == criterion
    assert Criterion.objects.count() == 1


def test_update_makes_a_new_version_and_changes_the_goal(experiment, operator, server):
    criterion = criterion_update(experiment=experiment, text="  Books a viewing.  ", user=operator)
    assert (criterion.version, criterion.text, criterion.created_by) == (
        2,
        "Books a viewing.",
        operator,
    )
    experiment.refresh_from_db()
    assert experiment.goal_criteria == "Books a viewing."
    assert criterion_current(experiment=experiment) == criterion
    entry = AuditEntry.objects.get(action="judging.criterion")
    assert entry.before["version"] == 1 and entry.after == {
        "version": 2,
        "criterion": "Books a viewing.",
    }


@pytest.mark.parametrize(
    ("text", "message"), [("  ", "Describe what a good call"), (CRITERION, "unchanged")]
)
def test_update_refuses_empty_or_unchanged_text(experiment, operator, text, message):
    with pytest.raises(ValidationError, match=message):
        criterion_update(experiment=experiment, text=text, user=operator)
    assert not Criterion.objects.filter(version=2).exists()


def test_update_refuses_a_goal_that_is_not_custom(agent, operator):
    experiment = make_experiment(agent=agent, user=operator)
    with pytest.raises(ValidationError, match="only a custom goal has a criterion"):
        criterion_update(experiment=experiment, text="Polite.", user=operator)


def test_update_judges_every_call_of_both_arms_again(
    experiment, operator, server, django_capture_on_commit_callbacks
):
    calls = [
        add_call(experiment, key, transcript=said(f"{key} {i}"))
        for key in ("control", "b")
        for i in range(3)
    ]
    for call in calls:
        judge(call)
    assert Judgement.objects.filter(criterion__version=1).count() == 6
    with django_capture_on_commit_callbacks(execute=True):
        criterion = criterion_update(experiment=experiment, text="Books a viewing.", user=operator)
    judged = Judgement.objects.filter(criterion=criterion)
    assert sorted(judged.values_list("call_id", flat=True)) == sorted(c.pk for c in calls)
    assert set(judged.values_list("call__variant__key", flat=True)) == {"control", "b"}
    assert len(server.requests) == 12
    assert all("Books a viewing." in r.prompt for r in server.requests[6:])


# Verdicts


def test_it_stores_the_verdict_with_model_prompt_and_criterion_versions(experiment, server):
    server.answer("fail", "The agent never asked about the timeline.")
    call = add_call(experiment)
    judgement = judge(call)
    assert judgement.verdict == "fail"
    assert judgement.reasoning == "The agent never asked about the timeline."
    assert (judgement.model, judgement.prompt_version) == (JUDGE_MODEL, JUDGE_PROMPT_VERSION)
    assert judgement.criterion.version == 1 and judgement.call == call
    assert len(judgement.cache_key) == 64 and judgement.error == ""
    (request,) = server.requests
    assert request.body["model"] == JUDGE_MODEL
    assert request.headers["authorization"] == f"Bearer {JUDGE_KEY}"
    assert CRITERION in request.prompt and "Caller: About 300k, moving in spring." in request.prompt


def test_judging_twice_sends_one_request_and_stores_one_judgement(experiment, server):
    call = add_call(experiment)
    first, second = judge(call), judge(call)
    assert first == second
    assert Judgement.objects.count() == 1 and len(server.requests) == 1


def test_an_identical_transcript_is_judged_once(experiment, server):
    server.answer("pass", "Budget and timeline, politely.")
    one, two = add_call(experiment, "control"), add_call(experiment, "b")
    first, second = judge(one), judge(two)
    assert len(server.requests) == 1
    assert (second.verdict, second.reasoning) == ("pass", "Budget and timeline, politely.")
    assert first.cache_key == second.cache_key and first.pk != second.pk


def test_a_different_transcript_is_sent(experiment, server):
    judge(add_call(experiment, transcript=said("Hello")))
    judge(add_call(experiment, transcript=said("Goodbye")))
    assert len(server.requests) == 2


def test_a_transcript_reported_later_is_judged_again(experiment, server):
    call = add_call(experiment, transcript=[])
    first = judge(call)
    assert (first.verdict, first.reasoning) == ("unknown", "No transcript.")
    assert server.requests == []
    call.transcript = said("My budget is 300k.")
    call.save()
    server.answer("pass")
    second = judge(call)
    assert second.pk == first.pk and second.verdict == "pass"
    assert Judgement.objects.count() == 1 and len(server.requests) == 1


def test_bad_output_is_stored_as_an_error_not_a_fail(experiment, server):
    server.content("I think it passes.")
    judgement = judge(add_call(experiment))
    assert judgement.verdict == "error"
    assert "not a verdict" in judgement.error and "I think it passes." in judgement.error
    server.answer("pass")
    assert judge(add_call(experiment, "b")).verdict == "pass"  # errors are never reused
    assert len(server.requests) == 2


def test_a_request_the_endpoint_rejects_is_an_error(experiment, server):
    server.error(400, "This model's maximum context length is 8192 tokens.")
    judgement = judge(add_call(experiment))
    assert judgement.verdict == "error" and "context length" in judgement.error


def test_nothing_is_sent_without_an_endpoint(experiment, server, settings):
    settings.JUDGE_BASE_URL = ""
    assert judge(add_call(experiment)) is None
    assert not Judgement.objects.exists() and server.requests == []


def test_a_superseded_criterion_is_not_judged(experiment, operator, server):
    call = add_call(experiment)
    old = criterion_current(experiment=experiment)
    criterion_update(experiment=experiment, text="Books a viewing.", user=operator)
    assert judge_call(call_id=call.pk, criterion_id=old.pk) is None
    assert server.requests == []


@pytest.mark.parametrize(
    ("behave", "raised"),
    [
        (lambda s: s.error(429, headers={"Retry-After": "3"}), JudgeRateLimited),
        (lambda s: s.error(503), JudgeUnavailable),
    ],
)
def test_retryable_failures_reach_the_caller_and_store_nothing(experiment, server, behave, raised):
    behave(server)
    with pytest.raises(raised):
        judge(add_call(experiment))
    assert not Judgement.objects.exists()


def test_the_site_key_is_only_sent_to_the_sites_endpoint(experiment, server):
    with ChatServer() as elsewhere:
        experiment.judge_base_url = elsewhere.url
        experiment.save()
        judge(add_call(experiment))
    assert "authorization" not in elsewhere.requests[0].headers
    assert server.requests == []


def test_giving_up_stores_an_error_but_keeps_a_verdict_that_came_meanwhile(experiment, server):
    call = add_call(experiment)
    criterion = criterion_current(experiment=experiment)
    failed = judge_call_failed(call_id=call.pk, criterion_id=criterion.pk, error="No answer.")
    assert (failed.verdict, failed.error) == ("error", "No answer.")
    Judgement.objects.all().delete()
    judged = judge(call)
    kept = judge_call_failed(call_id=call.pk, criterion_id=criterion.pk, error="No answer.")
    assert kept == judged and kept.verdict == "pass"


# Pausing


def test_a_refused_key_pauses_judging_with_a_sentence(experiment, server):
    server.error(401, "Incorrect API key provided.")
    assert judge(add_call(experiment)) is None
    experiment.refresh_from_db()
    assert experiment.judging_paused_reason.startswith(
        "The judge endpoint refused the key (401 Unauthorized"
    )
    assert experiment.judging_paused_reason.endswith("Check JUDGE_API_KEY, then resume judging.")
    entry = AuditEntry.objects.get(action="judging.pause")
    assert entry.actor_label == "the judge" and entry.reason == experiment.judging_paused_reason
    assert not Judgement.objects.exists()


def test_the_key_quoted_back_by_the_endpoint_is_not_kept(experiment, server):
    server.error(401, f"Incorrect API key provided: {JUDGE_KEY}.")
    judge(add_call(experiment))
    experiment.refresh_from_db()
    assert JUDGE_KEY not in experiment.judging_paused_reason
    assert "[JUDGE_API_KEY]" in experiment.judging_paused_reason
    assert JUDGE_KEY not in str(AuditEntry.objects.get(action="judging.pause").after)


def test_an_unknown_model_pauses_judging_naming_the_model(experiment, server):
    server.error(404, "The model `judge-1` does not exist.")
    judge(add_call(experiment))
    experiment.refresh_from_db()
    assert "does not know the model “judge-1” (404 Not Found" in experiment.judging_paused_reason
    assert "Check the judge's base URL and model" in experiment.judging_paused_reason


def test_no_call_is_sent_while_paused_and_resuming_catches_up(
    experiment, server, manager, django_capture_on_commit_callbacks
):
    server.error(401, "Incorrect API key provided.")
    first = add_call(experiment, transcript=said("one"))
    judge(first)
    later = [add_call(experiment, "b", transcript=said(f"later {i}")) for i in range(2)]
    assert [judge(call) for call in later] == [None, None]
    assert calls_to_judge(call_ids=[c.pk for c in later]) == []
    assert len(server.requests) == 1
    with django_capture_on_commit_callbacks(execute=True):
        judging_resume(experiment=experiment, user=manager)
    experiment.refresh_from_db()
    assert experiment.judging_paused_reason == ""
    assert AuditEntry.objects.get(action="judging.resume").actor == manager
    assert len(server.requests) == 4
    assert set(Judgement.objects.values_list("call_id", "verdict")) == {
        (c.pk, "pass") for c in [first, *later]
    }


def test_resuming_gives_judge_errors_another_try(
    experiment, server, manager, django_capture_on_commit_callbacks
):
    server.content("not json")
    call = add_call(experiment)
    assert judge(call).verdict == "error"
    with django_capture_on_commit_callbacks(execute=True):
        judging_resume(experiment=experiment, user=manager)
    assert Judgement.objects.get(call=call).verdict == "pass"
    assert not AuditEntry.objects.filter(action="judging.resume").exists()  # was not paused


# What the tasks queue


def test_calls_to_judge_skips_judged_calls_and_goals_the_judge_does_not_decide(
    agent, operator, experiment, server
):
    judged, fresh = (
        add_call(experiment, transcript=said("a")),
        add_call(experiment, transcript=said("b")),
    )
    judge(judged)
    other = make_experiment(agent=agent, user=operator, name="Conversion")
    conversion = add_call(other)
    criterion = criterion_current(experiment=experiment)
    ids = [judged.pk, fresh.pk, conversion.pk]
    assert calls_to_judge(call_ids=ids) == [(fresh.pk, criterion.pk)]


# Calibration


def rate(experiment, pairs, reviewers):
    """Calls with the judge's verdict and each reviewer's, from (human, judge) pairs."""
    criterion = criterion_current(experiment=experiment)
    for i, (human, judged) in enumerate(pairs):
        call = add_call(experiment, transcript=said(f"call {i}"))
        Judgement.objects.create(
            call=call,
            criterion=criterion,
            model=JUDGE_MODEL,
            prompt_version=JUDGE_PROMPT_VERSION,
            verdict=judged,
            cache_key=f"{i:064d}",
        )
        if human:
            human_verdict_set(call=call, reviewer=reviewers[i % len(reviewers)], verdict=human)


def table(pass_pass, pass_fail, fail_pass, fail_fail):
    """(human, judge) pairs from the four cells of the table."""
    return (
        [("pass", "pass")] * pass_pass
        + [("pass", "fail")] * pass_fail
        + [("fail", "pass")] * fail_pass
        + [("fail", "fail")] * fail_fail
    )


def test_calibration_reports_agreement_and_kappa(experiment, manager, server):
    # p_o = 22/25 = 0.88; humans pass 14/25, judge pass 15/25;
    # p_e = (14*15 + 11*10) / 625 = 0.512; kappa = (0.88 - 0.512) / 0.488 = 0.7541
    rate(experiment, table(13, 1, 2, 9), [manager])
    result = calibration(experiment=experiment)
    assert (result["calls"], result["pairs"], result["agreed"]) == (25, 25, 22)
    assert result["agreement"] == pytest.approx(0.88)
    assert result["kappa"] == pytest.approx(0.368 / 0.488)
    assert result["trustworthy"] is True and result["criterion_version"] == 1
    assert "agrees with managers on 22 of 25 verdicts (kappa 0.75" in result["sentence"]


def test_calibration_below_06_is_not_trustworthy(experiment, manager, server):
    # p_o = 20/25 = 0.8; p_e = 0.512 as above; kappa = 0.288 / 0.488 = 0.5902
    rate(experiment, table(12, 2, 3, 8), [manager])
    result = calibration(experiment=experiment)
    assert result["kappa"] == pytest.approx(0.288 / 0.488)
    assert result["trustworthy"] is False and "do not trust" in result["sentence"]


def test_calibration_leaves_out_unknowns_errors_and_unrated_calls(experiment, manager, server):
    rate(
        experiment,
        [("pass", "pass"), ("fail", "fail"), ("pass", "unknown"), ("fail", "error")],
        [manager],
    )
    rate(experiment, [(None, "pass")], [manager])
    result = calibration(experiment=experiment)
    assert (result["calls"], result["pairs"], result["kappa"]) == (2, 2, 1.0)
    assert result["trustworthy"] is False  # perfect, but on two calls
    assert "Judge at least 20 calls by hand (2 done)" in result["sentence"]


def test_each_reviewer_is_one_pair(experiment, manager, server):
    other = make_user("otto", role="manager")
    call = add_call(experiment, transcript=said("x"))
    rate(experiment, [], [manager])
    Judgement.objects.create(
        call=call,
        criterion=criterion_current(experiment=experiment),
        model=JUDGE_MODEL,
        prompt_version=JUDGE_PROMPT_VERSION,
        verdict="pass",
        cache_key="f" * 64,
    )
    human_verdict_set(call=call, reviewer=manager, verdict="pass")
    human_verdict_set(call=call, reviewer=other, verdict="fail")
    result = calibration(experiment=experiment)
    assert (result["calls"], result["pairs"], result["agreed"]) == (1, 2, 1)


def test_calibration_with_nothing_rated_says_what_to_do(experiment, server):
    result = calibration(experiment=experiment)
    assert result["pairs"] == 0 and result["kappa"] is None and result["agreement"] is None
    assert "Mark pass or fail" in result["sentence"]


def test_a_reviewer_changing_their_mind_replaces_their_verdict(experiment, manager):
    call = add_call(experiment)
    human_verdict_set(call=call, reviewer=manager, verdict="pass")
    human_verdict_set(call=call, reviewer=manager, verdict="fail")
    assert list(HumanVerdict.objects.values_list("verdict", flat=True)) == ["fail"]
    with pytest.raises(ValidationError, match="“pass” or “fail”"):
        human_verdict_set(call=call, reviewer=manager, verdict="unknown")


# Model families


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini-2025-04-16", "openai"),
        ("openai/gpt-oss-120b", "openai"),
        ("claude-3-5-sonnet-20241022", "anthropic"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic"),
        ("gemini-2.0-flash", "google"),
        ("meta-llama/Llama-3.1-70B-Instruct", "meta"),
        ("llama3.1:8b", "meta"),
        ("mistral-large-latest", "mistral"),
        ("mixtral-8x7b-instruct", "mistral"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen"),
        ("deepseek-chat", "deepseek"),
        ("accounts/fireworks/models/deepseek-v3", "deepseek"),
        ("", ""),
    ],
)
def test_model_families(model, family):
    assert judge_model_family(model) == family


def test_same_family_warns_of_a_judge_from_the_agents_maker():
    assert same_family("gpt-4.1", "gpt-4o-mini") is True
    assert same_family("claude-3-5-haiku", "gpt-4o-mini") is False
    assert same_family("", "") is False


def test_a_broker_that_is_down_is_logged_not_raised(
    experiment, operator, caplog, django_capture_on_commit_callbacks
):
    dead = Proxy(6379)  # never started: nothing listens on its port
    broken = Celery("broken", broker=f"redis://127.0.0.1:{dead.port}/0", set_as_current=False)
    broken.conf.task_publish_retry = False
    broken.conf.broker_connection_timeout = 0.5
    add_call(experiment)
    broken.set_current()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            criterion = criterion_update(
                experiment=experiment, text="Books a viewing.", user=operator
            )
    finally:
        app.set_current()
    assert criterion.version == 2 and not Judgement.objects.exists()
    assert "Could not queue judging.judge_calls for 1 calls" in caplog.text
    assert "Connection refused" in caplog.text
