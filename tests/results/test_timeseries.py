"""The goal metric by call date, computed from the calls (apps/results/timeseries.py)."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_start, experiment_stop, weights_set
from apps.results.aggregation import aggregate
from apps.results.analysis import Arm, Setup, analyse
from apps.results.timeseries import MAX_BUCKETS, choose_step, compute_series
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def started(experiment, operator, at=START):
    experiment = experiment_start(experiment=experiment, user=operator)
    phases = [{**experiment.phases[0], "started_at": at.isoformat()}]
    Experiment.objects.filter(pk=experiment.pk).update(started_at=at, phases=phases)
    return Experiment.objects.get(pk=experiment.pk)


def calls_over(experiment, hours, per_hour=40, seed=3, repeat=5, rates=None):
    """Calls spread over `hours`, callers calling again (one in `repeat` is a repeat)."""
    rng = random.Random(seed)
    variants = {v.key: v for v in experiment.variants.all()}
    rates = rates or {"control": 0.2, "b": 0.3}
    rows, n = [], 0
    for hour in range(hours):
        for _ in range(per_hour):
            key = rng.choice(list(rates))
            caller = f"{key}-{rng.randrange(max(1, (n // repeat) + 1))}"
            rows.append(
                Call(
                    agent=experiment.agent,
                    call_id=f"t-{n}",
                    experiment=experiment,
                    variant=variants[key],
                    caller=caller,
                    started_at=START + timedelta(hours=hour, minutes=rng.randrange(60)),
                    converted=rng.random() < rates[key],
                    duration_seconds=rng.uniform(30, 300),
                    sentiment=rng.uniform(-1, 1),
                    completed=True,
                )
            )
            n += 1
    Call.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:  # as autovacuum would: a fresh table has no statistics
        cursor.execute("ANALYZE calls_call")


def analysed_before(experiment, at):
    """The page's own analysis of the calls started before `at`."""
    kept = list(experiment.calls.filter(started_at__gte=at).values_list("pk", flat=True))
    hidden = Call.objects.filter(pk__in=kept)
    hidden.update(after_stop=True)
    stats = aggregate(
        experiment.pk,
        unit=experiment.unit,
        phase_starts=[datetime.fromisoformat(p["started_at"]) for p in experiment.phases],
    )
    hidden.update(after_stop=False)
    variants = experiment.variants.order_by("-is_control", "key")
    arms = [Arm(v.key, v.name, v.weight, v.is_control, stats.get(v.id)) for v in variants]
    setup = Setup(
        goal=experiment.goal_kind,
        direction=experiment.goal_direction,
        guardrails=(),
        min_calls=experiment.min_calls_per_arm,
        tuning=experiment.sequential_tuning,
        min_lift=experiment.min_lift,
        calls_per_day=0,
    )
    return analyse(setup, arms)


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_each_point_is_the_analysis_of_the_calls_before_it(agent, operator, unit):
    experiment = started(make_experiment(agent=agent, user=operator, unit=unit), operator)
    calls_over(experiment, hours=6, per_hour=400)
    series = compute_series(experiment, now=START + timedelta(hours=6))
    assert len(series["points"]) == 6 and series["step"] == "hour"
    for point in (series["points"][2], series["points"][-1]):
        expected = analyse_rows(analysed_before(experiment, datetime.fromisoformat(point["t"])))
        for key, row in expected.items():
            assert point["units"][key] == row["units"]
            assert point["mean"][key] == pytest.approx(row["mean"], rel=1e-9)
        lift = expected["b"]["lift"]
        assert point["lift"]["b"][0] == pytest.approx(lift["absolute"], rel=1e-9)


def analyse_rows(result):
    return {v["key"]: v for v in result.to_json()["variants"]}


def test_the_range_narrows_and_never_widens_as_calls_come_in(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator)
    calls_over(experiment, hours=12, per_hour=300)
    points = compute_series(experiment, now=START + timedelta(hours=12))["points"]
    widths = [p["lift"]["b"][2] - p["lift"]["b"][1] for p in points if "b" in p["lift"]]
    assert len(widths) >= 8
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(widths))
    assert widths[-1] < widths[0] / 2


def test_no_change_is_drawn_before_every_variant_has_its_minimum(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator)
    calls_over(experiment, hours=6, per_hour=40)
    points = compute_series(experiment, now=START + timedelta(hours=6))["points"]
    for point in points:
        enough = min(point["units"].values()) >= experiment.min_calls_per_arm
        assert ("b" in point["lift"]) == enough
    assert points[0]["lift"] == {}
    assert all((p["mean"]["b"] is None) == (p["units"]["b"] < 30) for p in points)


def test_the_last_point_starts_from_the_snapshots_running_range(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator)
    calls_over(experiment, hours=3, per_hour=300)
    kept = {"basis": "conversion|higher|caller|5000", "ranges": {"b": [0.01, 0.02]}, "p": {}}
    last = compute_series(experiment, previous=kept, now=START + timedelta(hours=3))["points"][-1]
    assert 0.01 <= last["lift"]["b"][1] <= last["lift"]["b"][2] <= 0.02


def test_buckets_are_hours_then_days_then_weeks_and_never_more_than_the_bound():
    start = START
    assert choose_step(start, start + timedelta(days=3))[0] == "hour"
    assert choose_step(start, start + timedelta(days=30))[0] == "day"
    assert choose_step(start, start + timedelta(days=400))[0] == "week"
    for days in (1, 8, 9, 150, 199, 201, 1000):
        name, step = choose_step(start, start + timedelta(days=days))
        assert days * 86400 // step + 2 <= MAX_BUCKETS or name == "week"


def test_markers_say_where_the_split_changed_a_variant_paused_and_the_test_stopped(agent, operator):
    experiment = make_experiment(agent=agent, user=operator)
    experiment = experiment_start(experiment=experiment, user=operator)
    weights_set(experiment=experiment, weights={"control": 70, "b": 30}, user=operator)
    weights_set(experiment=experiment, weights={"control": 100, "b": 0}, user=operator)
    weights_set(experiment=experiment, weights={"control": 50, "b": 50}, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    series = compute_series(Experiment.objects.get(pk=experiment.pk))
    assert [m["text"] for m in series["markers"]] == [
        "Split changed to 70 / 30 by olivia",
        "Variant B paused by olivia",
        "Variant B resumed by olivia",
        "Stopped by olivia",
    ]


def test_a_draft_has_no_series(experiment):
    assert compute_series(experiment)["points"] == []


def test_100000_calls_are_read_in_one_scan_into_at_most_200_points(agent, operator):
    """The charts' cost is one pass over the calls whatever their number (their speed is
    measured by `make bench`, not timed here: a timed test fails on a busy machine)."""
    experiment = started(make_experiment(agent=agent, user=operator), operator)
    calls_over(experiment, hours=24 * 7, per_hour=100000 // (24 * 7) + 1, repeat=3)
    with CaptureQueriesContext(connection) as queries:
        series = compute_series(experiment, now=START + timedelta(days=7))
    scans = [q["sql"] for q in queries.captured_queries if "calls_call" in q["sql"]]
    assert len(scans) == 1
    assert len(series["points"]) <= MAX_BUCKETS


def test_a_call_stamped_before_the_start_counts_in_the_first_point(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator)
    calls_over(experiment, hours=2, per_hour=400)
    early = experiment.calls.order_by("started_at").first()
    Call.objects.filter(pk=early.pk).update(started_at=START - timedelta(seconds=3))
    last = compute_series(experiment, now=START + timedelta(hours=2))["points"][-1]
    assert sum(last["units"].values()) == experiment.calls.values("caller").distinct().count()
