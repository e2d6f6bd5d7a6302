"""Stored results older than a day are deleted, except each experiment's latest and frozen one:
nothing reads the others, and one a minute per running experiment would grow the table without
end."""

import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.experiments.models import ResultSnapshot
from apps.experiments.selectors import latest_snapshot
from apps.results.services import results_prune_snapshots
from apps.results.tasks import prune_snapshots
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def _snapshot(experiment, hours_ago: float, frozen: bool = False) -> ResultSnapshot:
    return ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=NOW - timedelta(hours=hours_ago),
        frozen=frozen,
        calls=0,
        verdict_code="not_enough_data",
        verdict_sentence="",
        data={},
    )


def _two_experiments(operator):
    agent = make_agent(user=operator)
    first = make_experiment(agent=agent, user=operator, name="First")
    second = make_experiment(agent=make_agent(user=operator), user=operator, name="Second")
    return first, second


def test_old_results_go_but_the_latest_and_the_frozen_stay(operator):
    first, second = _two_experiments(operator)
    old = [_snapshot(first, h) for h in (72, 50, 30)]
    frozen = _snapshot(first, 40, frozen=True)
    recent = [_snapshot(first, h) for h in (20, 1)]
    only_old = [_snapshot(second, h) for h in (90, 80)]  # its latest is two days old
    assert results_prune_snapshots(now=NOW, keep_hours=24) == len(old) + 1
    left = set(ResultSnapshot.objects.values_list("pk", flat=True))
    assert left == {frozen.pk, *(s.pk for s in recent), only_old[1].pk}
    assert latest_snapshot(second).pk == only_old[1].pk  # its page still shows a result
    assert results_prune_snapshots(now=NOW, keep_hours=24) == 0  # twice: nothing more


def test_the_latest_is_kept_even_when_the_frozen_one_is_newer(operator):
    first, _ = _two_experiments(operator)
    before = _snapshot(first, 60)
    frozen = _snapshot(first, 50, frozen=True)
    assert results_prune_snapshots(now=NOW, keep_hours=24) == 1
    assert list(ResultSnapshot.objects.values_list("pk", flat=True)) == [frozen.pk]
    assert not ResultSnapshot.objects.filter(pk=before.pk).exists()


def test_deletes_in_batches(operator):
    first, _ = _two_experiments(operator)
    for h in range(30, 37):
        _snapshot(first, h)
    _snapshot(first, 2)
    with CaptureQueriesContext(connection) as queries:
        assert results_prune_snapshots(now=NOW, keep_hours=24, batch=3) == 7
    deletes = [q for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1
    assert ResultSnapshot.objects.count() == 1


def test_the_hourly_task_uses_the_setting(operator, settings):
    first, _ = _two_experiments(operator)
    _snapshot(first, 30)
    _snapshot(first, 10)
    _snapshot(first, 1)
    settings.RESULT_SNAPSHOTS_KEEP_HOURS = 5
    assert prune_snapshots() == 2  # 30 and 10 hours old; the latest, an hour old, stays
    assert ResultSnapshot.objects.count() == 1


def test_it_is_on_the_beat_every_hour():
    from config.celery import app

    entry = app.conf.beat_schedule["prune-results"]
    assert entry["task"] == "results.prune_snapshots" and entry["schedule"] == 3600.0
    assert entry["task"] in app.tasks


@pytest.mark.parametrize("hours", ["0", "-3"])
def test_keeping_less_than_an_hour_is_refused_at_start(hours):
    result = subprocess.run(
        [sys.executable, "-c", "import django; import config.settings"],
        env={"RESULT_SNAPSHOTS_KEEP_HOURS": hours, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "RESULT_SNAPSHOTS_KEEP_HOURS must be a whole number of hours, 1 or more" in (
        result.stderr
    )
