"""Background work through a real Celery worker on the real Redis broker."""

import math

import pytest

from apps.experiments.models import ResultSnapshot
from apps.experiments.services import experiment_start, experiment_stop
from config.celery import app
from tests.factories import make_agent, make_experiment, make_user
from tests.results.helpers import add_calls
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_stopping_an_experiment_freezes_its_results_on_a_worker(celery_worker_on_redis):
    user = make_user("ops", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    experiment_start(experiment=experiment, user=user)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=150)
    experiment_stop(experiment=experiment, user=user)  # queues results.freeze on commit
    assert wait_for(lambda: ResultSnapshot.objects.filter(frozen=True).exists())
    snapshot = ResultSnapshot.objects.get(frozen=True)
    assert snapshot.experiment_id == experiment.pk and snapshot.calls == 300


def test_the_beat_job_refreshes_running_experiments_on_a_worker(celery_worker_on_redis):
    from apps.results.tasks import refresh_running

    user = make_user("ops", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    experiment_start(experiment=experiment, user=user)
    refresh_running.delay()
    assert wait_for(lambda: ResultSnapshot.objects.filter(experiment=experiment).exists())


def _run_value(rng, field, mean):
    if field == "cost_usd":
        return max(0.0, rng.gauss(mean, 0.01))
    if field == "tool_errors":  # of one tool call: 3% fail, 33% for the worse variant
        return int(rng.random() < 0.03 + 0.3 * mean)
    if isinstance(mean, tuple):  # (median, share of calls 3x slower): the slow tail grows
        return rng.lognormvariate(math.log(mean[0]), 0.3) * (3 if rng.random() < mean[1] else 1)
    return max(0.0, rng.gauss(mean, 150))


@pytest.mark.parametrize(
    ("guardrail", "worse"),
    [
        ("cost_per_call", {"cost_usd": (0.05, 0.08)}),
        ("tool_success_rate", {"tool_errors": (0, 1)}),
        ("latency_mean", {"response_latency_ms": (700.0, 1100.0)}),
        ("latency_p95", {"response_latency_ms": ((700.0, 0.0), (700.0, 0.1))}),
    ],
)
def test_a_guardrail_on_how_the_agent_runs_pauses_a_variant_on_a_worker(
    celery_worker_on_redis, guardrail, worse
):
    """The beat job on a real worker: results, then the guardrail, then the pause."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from apps.calls.models import Call
    from apps.results.tasks import refresh_running

    user = make_user("ops", role="operator")
    experiment = make_experiment(
        agent=make_agent(user=user), user=user, unit="call", guardrails=[guardrail]
    )
    experiment_start(experiment=experiment, user=user)
    rng = random.Random(1)
    ((field, (good, bad)),) = worse.items()
    calls = []
    for variant in experiment.variants.all():
        mean = bad if variant.key == "b" else good
        for i in range(1500):
            value = _run_value(rng, field, mean)
            calls.append(
                Call(
                    agent=experiment.agent,
                    call_id=f"w-{variant.key}-{i}",
                    experiment=experiment,
                    variant=variant,
                    caller=f"{variant.key}-{i}",
                    started_at=timezone.now() - timedelta(minutes=20),
                    tool_calls=1,
                    **{field: value},
                )
            )
    Call.objects.bulk_create(calls)
    refresh_running.delay()
    b = experiment.variants.get(key="b")
    assert wait_for(lambda: b.__class__.objects.get(pk=b.pk).weight == 0, seconds=30)
    b.refresh_from_db()
    assert b.paused_weight == 50 and "paused automatically" in b.paused_reason


def test_the_beat_schedule_refreshes_results_every_minute():
    schedule = app.conf.beat_schedule["refresh-results"]
    assert schedule["task"] == "results.refresh_running" and schedule["schedule"] == 60.0


# A worker killed mid-task: the task still completes, once.


def _children(pid: int) -> list[int]:
    from pathlib import Path

    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.fixture
def worker_processes():
    """Start real `celery -A config worker` processes (prefork, one child) on this test's
    database and Redis; their unacknowledged messages come back after 5 s."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import redis
    from django.db import connection

    # Start from an empty queue: no message left over by another test's worker.
    redis.Redis.from_url(app.conf.broker_url).delete("celery", "unacked", "unacked_index")
    started = []
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        ),
        "CELERY_VISIBILITY_TIMEOUT": "5",
    }

    def start(**extra_env) -> subprocess.Popen:
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env={**env, **extra_env},
            start_new_session=True,  # its own process group, to kill it whole
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


@pytest.fixture
def slow_judge(settings):
    """The LLM judge answers the first request only after 60 s (the worker is killed during
    it), then at once. Queues one judging of one call, as ingestion would."""
    from apps.judging.services import criterion_current
    from tests.judging.chat_server import ChatServer
    from tests.judging.helpers import JUDGE_KEY, JUDGE_MODEL, add_call, custom_experiment

    with ChatServer() as server:
        server.slow(60.0)  # longer than a second worker takes to start on a busy machine
        user = make_user("ops", role="operator")
        experiment = custom_experiment(agent=make_agent(user=user), user=user)
        call = add_call(experiment)
        criterion = criterion_current(experiment=experiment)
        env = {"JUDGE_BASE_URL": server.url, "JUDGE_MODEL": JUDGE_MODEL, "JUDGE_API_KEY": JUDGE_KEY}

        def queue():
            app.conf.task_always_eager = False
            try:
                app.signature("judging.judge_call", args=(call.pk, criterion.pk)).delay()
            finally:
                app.conf.task_always_eager = True

        yield server, env, queue, call


def test_a_pool_process_killed_mid_task_gives_the_task_back_and_it_completes_once(
    worker_processes, slow_judge
):
    import os
    import signal

    from apps.judging.models import Judgement

    server, env, queue, call = slow_judge
    worker = worker_processes(**env)
    queue()
    assert wait_for(lambda: len(server.requests) == 1, 30)  # the task is in the judge's hands
    (child,) = _children(worker.pid)
    os.kill(child, signal.SIGKILL)  # WorkerLostError on main: task acked and lost
    assert wait_for(lambda: Judgement.objects.filter(call=call).exists(), 30)
    assert Judgement.objects.filter(call=call).count() == 1
    assert len(server.requests) == 2 and worker.poll() is None


def test_a_whole_worker_killed_mid_task_its_message_comes_back_to_another_worker(
    worker_processes, slow_judge
):
    import os
    import signal

    from apps.judging.models import Judgement

    server, env, queue, call = slow_judge
    first = worker_processes(**env)
    assert wait_for(lambda: len(app.control.ping(timeout=0.5)) == 1, 30)
    queue()
    assert wait_for(lambda: len(server.requests) == 1, 30)
    worker_processes(**env)  # another worker, already running when the first dies
    assert wait_for(lambda: len(app.control.ping(timeout=0.5)) == 2, 30)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its pool, no goodbye to Redis
    first.wait()
    assert not Judgement.objects.filter(call=call).exists()
    # The message is unacknowledged in Redis; after the visibility timeout (5 s here) the
    # surviving worker puts it back in the queue (it looks every 10 s) and judges the call.
    assert wait_for(lambda: Judgement.objects.filter(call=call).exists(), 40)
    assert Judgement.objects.filter(call=call).count() == 1
    assert len(server.requests) == 2


# The outbox: work written down with the change, sent by the drain when it could not be sent.


def test_a_change_that_rolls_back_leaves_no_work_queued():
    from django.db import transaction

    from apps.outbox.models import Message
    from config.celery import queue_after_commit

    app.conf.task_always_eager = False
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            queue_after_commit("outbox.drain", what="a change that fails")
            assert Message.objects.count() == 1  # written in the change's own transaction
            raise RuntimeError
    finally:
        app.conf.task_always_eager = True
    assert not Message.objects.exists()


def test_the_drain_sends_unsent_rows_and_skips_those_another_process_holds():
    import threading

    from django.db import connection, transaction

    from apps.outbox.models import Message
    from apps.outbox.services import outbox_drain

    held, _ = (Message.objects.create(task_name="outbox.drain") for _ in range(2))
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    app.conf.task_always_eager = False
    try:
        assert locked.wait(10)
        assert outbox_drain() == 1
        assert list(Message.objects.values_list("pk", flat=True)) == [held.pk]
        release.set()
        holder.join()
        assert outbox_drain() == 1 and not Message.objects.exists()
    finally:
        release.set()
        app.conf.task_always_eager = True
        app.control.purge()  # the two drains sent; no worker here takes them


def test_the_beat_schedule_drains_the_outbox_every_few_seconds():
    schedule = app.conf.beat_schedule["drain-outbox"]
    assert schedule["task"] == "outbox.drain" and schedule["schedule"] <= 10
