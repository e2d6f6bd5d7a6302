"""Background work through a real Celery worker on the real Redis broker."""

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


def test_the_beat_schedule_refreshes_results_every_minute():
    schedule = app.conf.beat_schedule["refresh-results"]
    assert schedule["task"] == "results.refresh_running" and schedule["schedule"] == 60.0
