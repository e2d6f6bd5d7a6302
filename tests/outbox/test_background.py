"""`manage.py background`: the beat schedule in-process, for the embedded default."""

import pytest
from django.core.management import call_command

from apps.experiments.models import ResultSnapshot
from apps.experiments.services import experiment_start
from apps.outbox.management.commands.background import due, tick
from tests.results.helpers import add_calls

SCHEDULE = {
    "refresh-results": {"task": "results.refresh_running", "schedule": 60.0},
    "optimize-traffic": {"task": "results.optimize", "schedule": 3600.0},
}


def test_everything_is_due_first_then_each_task_at_its_own_interval():
    last_run = {}
    assert due(SCHEDULE, last_run, now=1000.0) == ["results.refresh_running", "results.optimize"]
    last_run.update({"refresh-results": 1000.0, "optimize-traffic": 1000.0})
    assert due(SCHEDULE, last_run, now=1059.0) == []
    assert due(SCHEDULE, last_run, now=1060.0) == ["results.refresh_running"]
    assert due(SCHEDULE, last_run, now=4600.0) == [
        "results.refresh_running",
        "results.optimize",
    ]


@pytest.mark.django_db
def test_a_tick_recomputes_the_results_of_running_experiments(experiment, operator):
    running = experiment_start(experiment=experiment, user=operator)
    add_calls(running, {"control": 0.2, "b": 0.3}, per_variant=50)
    assert not ResultSnapshot.objects.exists()
    ran = tick(SCHEDULE, {}, now=0.0)
    assert "results.refresh_running" in ran
    snapshot = ResultSnapshot.objects.get(experiment=running)
    assert snapshot.calls == 100


def test_a_failing_task_is_logged_and_the_others_still_run(caplog):
    schedule = {
        "broken": {"task": "no.such.task", "schedule": 1.0},
        "beat": {"task": "celery.ping", "schedule": 1.0},
    }
    last_run = {}
    ran = tick(schedule, last_run, now=0.0)
    assert "no.such.task" not in ran and "broken" in last_run and "beat" in last_run
    assert "Background task broken failed" in caplog.text


@pytest.mark.django_db
def test_the_command_runs_the_whole_schedule_once(experiment, operator, caplog):
    experiment_start(experiment=experiment, user=operator)
    call_command("background", "--once")
    assert ResultSnapshot.objects.filter(experiment=experiment).exists()
    assert "failed" not in caplog.text  # every task of the schedule is known and ran


def test_the_command_knows_every_task_of_the_schedule_in_a_fresh_process():
    """In a new process only what was imported is registered: the drain was unknown there."""
    import subprocess
    import sys

    script = (
        "import django; django.setup();"
        "from celery import current_app; from django.conf import settings;"
        "current_app.loader.import_default_modules();"
        "missing = [e['task'] for e in settings.CELERY_BEAT_SCHEDULE.values()"
        " if e['task'] not in current_app.tasks]; print(missing)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
