"""The judge's Celery tasks: eagerly against a real chat server, and on a real worker."""

import pytest

from apps.judging import tasks
from apps.judging.models import Judgement
from apps.judging.services import criterion_current
from apps.judging.tasks import judge_call, judge_calls, retry_countdown
from config.celery import app
from tests.factories import make_agent, make_experiment, make_user
from tests.judging.chat_server import ChatServer
from tests.judging.helpers import add_call, custom_experiment, point_judge_at, said
from tests.waiting import wait_for


@pytest.fixture
def server(settings):
    with ChatServer() as server:
        point_judge_at(settings, server, timeout=0.5)
        yield server


# The countdown


@pytest.mark.parametrize(
    ("retries", "full"), [(0, 2), (1, 4), (2, 8), (5, 64), (7, 256), (8, 300), (20, 300)]
)
def test_backoff_doubles_from_2_seconds_up_to_300(retries, full):
    assert retry_countdown(retries, rng=lambda: 1.0) == full
    assert retry_countdown(retries, rng=lambda: 0.0) == full / 2  # jitter: half to all of it


def test_the_countdown_is_never_sooner_than_retry_after():
    assert retry_countdown(0, 30.0, rng=lambda: 1.0) == 30.0
    assert retry_countdown(6, 30.0, rng=lambda: 1.0) == 128.0  # backoff already longer
    assert retry_countdown(0, None, rng=lambda: 1.0) == 2.0


def test_a_very_long_retry_after_is_capped_below_the_brokers_redelivery():
    assert retry_countdown(0, 86_400.0) == tasks.COUNTDOWN_CAP_SECONDS


def test_the_jitter_spreads_retries():
    assert len({round(retry_countdown(3), 6) for _ in range(20)}) > 1


# Eagerly (the test settings run tasks in-process)


@pytest.fixture
def eager_retries():
    """In-process tasks retry at once, but only when their errors do not propagate."""
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


@pytest.mark.django_db
def test_it_retries_a_rate_limit_and_stores_the_verdict_once(
    agent, operator, server, eager_retries
):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    server.error(429, "Slow down.", headers={"Retry-After": "0"})
    server.answer("fail", "No timeline asked.")
    judge_call.delay(call.pk, criterion_current(experiment=experiment).pk)
    judgement = Judgement.objects.get()
    assert (judgement.call, judgement.verdict) == (call, "fail")
    assert len(server.requests) == 2


@pytest.mark.django_db
def test_it_retries_an_unavailable_judge_then_gives_up_with_an_error(
    agent, operator, server, eager_retries
):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    for _ in range(tasks.MAX_RETRIES + 1):
        server.error(503, "Overloaded.")
    judge_call.delay(call.pk, criterion_current(experiment=experiment).pk)
    judgement = Judgement.objects.get()
    assert judgement.verdict == "error"
    assert judgement.error.startswith("The judge did not answer after 7 tries (last: 503")
    assert len(server.requests) == 7


@pytest.mark.django_db
def test_a_slow_judge_is_retried(agent, operator, server, eager_retries):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    server.slow(3.0)
    judge_call.delay(call.pk, criterion_current(experiment=experiment).pk)
    assert Judgement.objects.get().verdict == "pass"
    assert len(server.requests) == 2


@pytest.mark.django_db
def test_running_it_twice_sends_one_request_and_stores_one_judgement(agent, operator, server):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    criterion = criterion_current(experiment=experiment)
    first = judge_call.delay(call.pk, criterion.pk).get()
    second = judge_call.delay(call.pk, criterion.pk).get()
    assert first == second == Judgement.objects.get().pk
    assert len(server.requests) == 1


@pytest.mark.django_db
def test_judge_calls_judges_only_the_calls_that_need_it(agent, operator, server, settings):
    experiment = custom_experiment(agent=agent, user=operator)
    calls = [add_call(experiment, key, transcript=said(key)) for key in ("control", "b")]
    conversion = add_call(make_experiment(agent=make_agent(user=operator), user=operator))
    assert judge_calls.delay([c.pk for c in [*calls, conversion]]).get() == 2
    assert judge_calls.delay([c.pk for c in calls]).get() == 0  # already judged
    assert sorted(Judgement.objects.values_list("call_id", flat=True)) == [c.pk for c in calls]
    assert len(server.requests) == 2
    settings.JUDGE_BASE_URL = ""
    assert judge_calls.delay([add_call(experiment, transcript=said("new")).pk]).get() == 0


@pytest.mark.django_db
def test_a_refusal_pauses_and_the_rest_is_not_sent(agent, operator, server):
    experiment = custom_experiment(agent=agent, user=operator)
    calls = [add_call(experiment, transcript=said(str(i))) for i in range(3)]
    server.error(401, "Bad key.")
    judge_calls.delay([c.pk for c in calls])
    experiment.refresh_from_db()
    assert "refused the key" in experiment.judging_paused_reason
    assert len(server.requests) == 1 and not Judgement.objects.exists()


@pytest.mark.django_db
def test_judge_calls_goes_on_when_an_in_process_judge_must_wait(agent, operator, server):
    experiment = custom_experiment(agent=agent, user=operator)
    calls = [add_call(experiment, transcript=said(str(i))) for i in range(2)]
    server.error(429, "Slow down.", headers={"Retry-After": "30"})
    assert judge_calls.delay([c.pk for c in calls]).get() == 2
    assert list(Judgement.objects.values_list("call_id", flat=True)) == [calls[1].pk]


def test_the_tasks_are_registered_by_name():
    assert {"judging.judge_call", "judging.judge_calls"} <= set(app.tasks)


# On a real worker, with the real Redis broker: the countdown is really waited for.


@pytest.mark.django_db(transaction=True)
def test_a_worker_waits_for_retry_after_before_asking_again(server, celery_worker_on_redis):
    user = make_user("ops", role="operator")
    experiment = custom_experiment(agent=make_agent(user=user), user=user)
    call = add_call(experiment)
    server.error(429, "Slow down.", headers={"Retry-After": "3"})
    server.answer("pass", "Budget and timeline asked.")
    judge_call.delay(call.pk, criterion_current(experiment=experiment).pk)
    assert wait_for(lambda: Judgement.objects.filter(call=call).exists())
    first, second = server.requests
    assert second.at - first.at >= 3.0
    assert Judgement.objects.get().verdict == "pass"
