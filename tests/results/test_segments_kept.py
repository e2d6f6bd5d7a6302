"""Segments kept with the results (`Experiment.segments`): computed in the results' own scan of
the calls, stored in each snapshot, equal to the segment computed alone and to a plain Python
computation; the main results do not move by being split; the setting's refusals write nothing;
old snapshots and stopped experiments stay true."""

import json
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_start, experiment_stop, experiment_update
from apps.metrics.segments import DEFAULT, MAX_KEPT
from apps.results import segments as segments_module
from apps.results.aggregation import aggregate
from apps.results.segment_table import segment_table, segment_tables
from apps.results.segments import parse
from apps.results.services import results_compute
from tests.factories import CallFactory, make_agent, make_experiment, make_user
from tests.results.test_segments import _by_label, _calls, _expected, _started

pytestmark = pytest.mark.django_db
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_new_experiment_keeps_the_default_segments(experiment):
    assert experiment.segments == list(DEFAULT)
    assert list(DEFAULT) == ["hour_of_day", "weekday", "caller_country", "ended_by"]


def test_kept_segments_come_with_the_results_from_one_scan(experiment, operator):
    experiment = _started(experiment, operator)
    calls = _calls(experiment, seed=11)
    with CaptureQueriesContext(connection) as queries:
        snapshot = results_compute(experiment=experiment)
    scans = [q["sql"] for q in queries.captured_queries if "calls_call" in q["sql"]]
    assert len(scans) == 1, scans  # metrics and the four segments: one read of the calls
    stored = snapshot.result.segments
    assert list(stored) == list(DEFAULT)
    got = _by_label(stored["weekday"])
    expected = _expected(calls, lambda c: DAYS[c.started_at.weekday()])
    assert set(got) == set(expected)
    for label, per_variant in expected.items():
        for key, (units, num, den) in per_variant.items():
            assert got[label][key]["units"] == units
            assert got[label][key]["value"] == pytest.approx(num / den)


def test_a_kept_segment_equals_the_same_segment_computed_alone(experiment, operator):
    experiment = _started(experiment, operator)
    _calls(experiment, seed=12, n=900, callers=400)
    snapshot = results_compute(experiment=experiment)
    alone = segment_tables(experiment, [parse(key) for key in DEFAULT])
    for table in alone:
        kept = snapshot.result.segments[table["segment"]]
        _assert_close(json.loads(json.dumps(kept)), json.loads(json.dumps(table)))


def _assert_close(a, b, where="table"):
    """Equal, numbers within 1e-9 relative (the sums are added in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _assert_close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


def test_reading_a_kept_segment_scans_nothing(experiment, operator, django_assert_num_queries):
    experiment = _started(experiment, operator)
    _calls(experiment, n=60)
    snapshot = results_compute(experiment=experiment)
    snapshot.refresh_from_db()
    with django_assert_num_queries(0):
        table = segment_table(experiment, snapshot, "caller_country")
    assert table == snapshot.result.segments["caller_country"] and table["values"]


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_splitting_does_not_move_the_main_results(operator, unit):
    """Every figure of the whole experiment is summed from the cells when segments are asked
    for: it must equal the plain query's, for every metric."""
    experiment = make_experiment(agent=make_agent(user=operator), user=operator, unit=unit)
    experiment = _started(experiment, operator)
    _calls(experiment, seed=13, n=700)
    plain = aggregate(experiment.id, unit=unit, phase_starts=experiment.phase_starts)
    dims = [
        segments_module.dimension(experiment, parse(key))
        for key in ("hour_of_day", "field:plan", "returning_caller", "caller_country", "ended_by")
    ]
    split = aggregate(
        experiment.id, unit=unit, phase_starts=experiment.phase_starts, dimensions=dims
    )
    assert set(plain) == set(split)
    for variant_id, arm in plain.items():
        other = split[variant_id]
        assert (other.calls, other.units, other.units_by_phase) == (
            arm.calls,
            arm.units,
            arm.units_by_phase,
        )
        for key, stats in arm.metrics.items():
            assert other.metrics[key] == pytest.approx(stats), key
        assert len(other.segments) == 5
        for parts in other.segments:  # each segment's groups add up to the whole arm
            assert sum(p.units for p in parts) == arm.units
            assert sum(p.calls for p in parts) == arm.calls


def test_a_field_segment_kept_through_the_api_is_stored(api, admin_key, operator):
    agent = make_agent(user=operator)
    body = {
        "agent": agent.slug,
        "name": "Plans",
        "goal": {"kind": "conversion"},
        "segments": ["field:plan", "ended_by"],
    }
    response = api.post("/api/v1/experiments", body, key=admin_key)
    assert response.status_code == 201, response.content
    assert response.json()["segments"] == ["field:plan", "ended_by"]
    experiment = Experiment.objects.get(pk=response.json()["id"])
    make_variant = api.post(
        f"/api/v1/experiments/{experiment.pk}/variants", {"name": "B"}, key=admin_key
    )
    assert make_variant.status_code == 201, make_variant.content
    api.put(
        f"/api/v1/experiments/{experiment.pk}/weights",
        {"weights": {"control": 50, "b": 50}},
        key=admin_key,
    )
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    _calls(experiment, n=120)
    snapshot = results_compute(experiment=experiment)
    assert list(snapshot.result.segments) == ["field:plan", "ended_by"]
    labels = {row["label"] for row in snapshot.result.segments["field:plan"]["values"]}
    assert {"gold", "silver", "Not reported"} <= labels


@pytest.mark.parametrize(
    "bad, words",
    [
        ("hour_of_day", "list of names"),
        (["colour"], "Unknown segment"),
        (["field:a b"], "letters, digits or underscores"),
        (["field:\x00"], "letters, digits or underscores"),
        (["weekday", "weekday"], "listed twice"),
        ([None], "Unknown segment"),
        ([{"deep": [[[]]]}], "Unknown segment"),
        ([float("nan")], "Unknown segment"),
        (["hour_of_day"] * (MAX_KEPT + 1), f"at most {MAX_KEPT}"),
    ],
)
def test_bad_segments_are_refused_in_words_and_write_nothing(operator, bad, words):
    agent = make_agent(user=operator)
    with pytest.raises(ValidationError) as refused:
        make_experiment(agent=agent, user=operator, segments=bad)
    assert words in str(refused.value.message_dict["segments"])
    assert not Experiment.objects.filter(agent=agent).exists()


def test_a_draft_update_with_bad_segments_changes_nothing(experiment, operator):
    before = list(experiment.segments)
    with pytest.raises(ValidationError):
        experiment_update(
            experiment=experiment,
            user=operator,
            name="Renamed",
            goal_kind="conversion",
            segments=["colour"],
        )
    experiment.refresh_from_db()
    assert (experiment.name, experiment.segments) == ("Warmer greeting", before)


def test_api_refuses_bad_segments_with_400_and_writes_nothing(api, admin_key, operator):
    agent = make_agent(user=operator)
    body = {"agent": agent.slug, "name": "X", "goal": {"kind": "conversion"}}
    for bad in (["colour"], "weekday", ["weekday", "weekday"]):
        response = api.post("/api/v1/experiments", {**body, "segments": bad}, key=admin_key)
        assert response.status_code == 400, response.content
        assert "segment" in response.content.decode().lower()
    assert not Experiment.objects.filter(agent=agent).exists()
    nested = "[" * 100_000 + "]" * 100_000
    deep = f'{{"agent": "{agent.slug}", "name": "X", "goal": {{"kind": "conversion"}}, '
    deep += f'"segments": {nested}}}'
    response = api.post("/api/v1/experiments", raw=deep, key=admin_key)
    assert response.status_code == 400
    assert not Experiment.objects.filter(agent=agent).exists()


def test_a_snapshot_stored_before_segments_were_kept_computes_on_demand(experiment, operator):
    experiment = _started(experiment, operator)
    _calls(experiment, n=80)
    snapshot = results_compute(experiment=experiment)
    data = dict(snapshot.data)
    del data["segments"]
    type(snapshot).objects.filter(pk=snapshot.pk).update(data=data)
    snapshot.refresh_from_db()
    assert snapshot.result.segments == {}
    table = segment_table(experiment, snapshot, "weekday")
    assert table["segment"] == "weekday" and table["values"]


def test_an_experiment_keeping_no_segment_scans_as_before(operator):
    experiment = make_experiment(agent=make_agent(user=operator), user=operator, segments=[])
    experiment = _started(experiment, operator)
    _calls(experiment, n=50)
    with CaptureQueriesContext(connection) as queries:
        snapshot = results_compute(experiment=experiment)
    assert snapshot.result.segments == {}
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "GROUPING SETS" not in sql


def test_stopped_experiments_keep_their_segments_frozen(experiment, operator):
    experiment = _started(experiment, operator)
    _calls(experiment, n=80)
    experiment_stop(experiment=experiment, user=operator)
    frozen = results_compute(experiment=experiment, frozen=True)
    assert frozen.frozen and set(frozen.result.segments) == set(DEFAULT)
    b = experiment.variants.get(key="b")
    for _ in range(40):  # late reports do not move what was decided on
        CallFactory(agent=experiment.agent, experiment=experiment, variant=b, converted=True)
    again = results_compute(experiment=experiment, frozen=True)
    assert again.pk == frozen.pk
    assert segment_table(experiment, again, "weekday") == frozen.result.segments["weekday"]


def test_a_percentile_goal_keeps_no_segment(operator):
    experiment = make_experiment(
        agent=make_agent(user=operator), user=operator, goal_kind="latency_p95"
    )
    experiment = _started(experiment, operator)
    _calls(experiment, n=30)
    snapshot = results_compute(experiment=experiment)
    assert snapshot.result.segments == {}


def test_a_small_groups_range_of_a_share_never_runs_past_100_points(experiment, operator):
    """24 hours of a few units each: the corrected ranges are wide, but a share's change is
    within ±100 points, and so is every range shown."""
    experiment = _started(experiment, operator)
    _calls(experiment, n=150, callers=120)
    snapshot = results_compute(experiment=experiment)
    changes = [
        change
        for row in snapshot.result.segments["hour_of_day"]["values"]
        for change in row["changes"]
        if change["ok"]
    ]
    assert changes
    assert any(c["ci_low"] == -1.0 or c["ci_high"] == 1.0 for c in changes)  # some were cut
    for change in changes:
        assert -1.0 <= change["ci_low"] <= change["absolute"] <= change["ci_high"] <= 1.0
        shown = re.search(r"range ([-+]?[\d.]+) to ([-+]?[\d.]+) points", change["sentence"])
        assert all(abs(float(x)) <= 100 for x in shown.groups()), change["sentence"]


# Keeping a segment while the experiment runs


def test_a_running_experiment_keeps_a_segment_from_the_next_refresh(
    experiment, operator, django_capture_on_commit_callbacks
):
    from apps.audit.models import AuditEntry
    from apps.experiments.services import experiment_segments_keep

    experiment = _started(experiment, operator)
    _calls(experiment, n=80)
    results_compute(experiment=experiment)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_segments_keep(
            experiment=experiment, segments=["returning_caller", "field:plan"], user=operator
        )
    experiment.refresh_from_db()
    assert experiment.segments == ["returning_caller", "field:plan"]
    latest = experiment.snapshots.order_by("-computed_at", "-id").first()
    assert set(latest.result.segments) == {"returning_caller", "field:plan"}  # recomputed
    entry = AuditEntry.objects.get(action="experiment.segments")
    assert entry.before == {"segments": list(DEFAULT)}
    assert entry.after == {"segments": ["returning_caller", "field:plan"]}


def test_keeping_segments_is_refused_after_the_stop_and_changes_nothing(experiment, operator):
    from apps.experiments.services import experiment_segments_keep

    experiment = _started(experiment, operator)
    experiment_stop(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="only while it is draft or running"):
        experiment_segments_keep(experiment=experiment, segments=[], user=operator)
    experiment.refresh_from_db()
    assert experiment.segments == list(DEFAULT)


def test_api_keeps_segments_and_refuses_bad_ones(api, admin_key, experiment, operator):
    experiment = _started(experiment, operator)
    url = f"/api/v1/experiments/{experiment.pk}/segments"
    ok = api.put(url, {"segments": ["ended_by"]}, key=admin_key)
    assert ok.status_code == 200 and ok.json()["segments"] == ["ended_by"]
    for body in ({"segments": ["colour"]}, {"segments": "ended_by"}, {}, {"segments": [None]}):
        refused = api.put(url, body, key=admin_key)
        assert refused.status_code == 400, (body, refused.content)
    experiment.refresh_from_db()
    assert experiment.segments == ["ended_by"]


def test_the_picker_keeps_and_drops_a_segment(client, operator, experiment):
    experiment = _started(experiment, operator)
    _calls(experiment, n=60)
    results_compute(experiment=experiment)
    client.force_login(operator)
    page = client.get(f"/results/{experiment.pk}/segments/?segment=returning_caller")
    assert "Keep it up to date" in page.content.decode()
    url = f"/experiments/{experiment.pk}/segments/"
    response = client.post(url, {"segment": "returning_caller", "keep": "1"})
    assert response.status_code == 302 and response.url.endswith("#segments")
    experiment.refresh_from_db()
    assert experiment.segments == [*DEFAULT, "returning_caller"]
    page = client.get(f"/results/{experiment.pk}/segments/?segment=weekday")
    assert "Stop keeping it" in page.content.decode()
    client.post(url, {"segment": "weekday", "keep": "0"})
    experiment.refresh_from_db()
    assert "weekday" not in experiment.segments
    bad = client.post(url, {"segment": "colour", "keep": "1"}, follow=True)
    assert "Unknown segment" in bad.content.decode()
    experiment.refresh_from_db()
    assert "colour" not in experiment.segments
    viewer = make_user("vera", role="viewer")
    client.force_login(viewer)
    assert client.post(url, {"segment": "weekday", "keep": "1"}).status_code == 403
    page = client.get(f"/results/{experiment.pk}/segments/?segment=weekday")
    assert "Keep it up to date" not in page.content.decode()


def test_one_group_is_the_whole_experiment_and_says_no_correction(experiment, operator):
    """Every call with the same value: the one group's range is the scorecard's own."""
    experiment = _started(experiment, operator)
    _calls(experiment, n=300, callers=200)
    Call.objects.filter(experiment=experiment).update(ended_by="")
    snapshot = results_compute(experiment=experiment)
    table = snapshot.result.segments["ended_by"]
    assert table["groups"] == 1
    (row,) = table["values"]
    (change,) = row["changes"]
    goal = next(m for m in snapshot.result.metrics if m.role == "goal")
    b = next(cell for cell in goal.variants if cell.key == "b")
    assert (change["ci_low"], change["ci_high"]) == pytest.approx(
        (b.change.ci_low, b.change.ci_high)
    )
    assert "corrected" not in change["sentence"] and "range" in change["sentence"]
