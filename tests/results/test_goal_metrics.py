"""Any metric as the goal, guardrails with their own thresholds, secondary metrics: on real
PostgreSQL, against numpy and scipy on the same calls."""

import random

import numpy as np
import pytest
from scipy import stats as sps

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_start
from apps.results.services import results_compute, results_refresh_running
from tests.factories import make_experiment
from tests.results.test_metrics import _numpy_moments, _random_call

pytestmark = pytest.mark.django_db
Z = 1.959964


def _running(agent, operator, **kwargs):
    experiment = make_experiment(agent=agent, user=operator, unit="call", **kwargs)
    return experiment_start(experiment=experiment, user=operator)


def _calls(experiment, n=1500, seed=3, worse="control"):
    """Random calls of every kind; `worse` makes cost and latency 1.5x / 1.3x higher."""
    rng = random.Random(seed)
    calls = [
        _random_call(experiment, v, f"{v.key}-{i}", i, rng, worse=v.key == worse)
        for v in experiment.variants.all()
        for i in range(n)
    ]
    for call in calls:
        call.caller = call.call_id  # per-call units: each call is its own unit
    Call.objects.bulk_create(calls)
    return calls


def _row(data, role, key):
    return next(m for m in data["metrics"] if m["role"] == role and m["key"] == key)


@pytest.mark.parametrize(
    ("goal", "winner"),
    [("cost_per_call", "b"), ("tool_success_rate", None), ("caller_hangup_rate", None)],
)
def test_a_goal_on_any_metric_matches_numpy_on_the_same_calls(agent, operator, goal, winner):
    experiment = _running(agent, operator, goal_kind=goal, guardrails=[])
    assert experiment.goal_direction == experiment.goal_metric.direction  # the metric's own
    calls = _calls(experiment)
    data = results_compute(experiment=experiment).data
    row = _row(data, "goal", goal)
    assert data["goal"] == goal and row["direction"] == experiment.goal_metric.direction
    ids = dict(experiment.variants.values_list("key", "id"))
    means, spread = {}, {}
    for cell in row["variants"]:
        mine = [c for c in calls if c.variant_id == ids[cell["key"]]]
        n, mean, var = _numpy_moments(mine, goal)
        means[cell["key"]], spread[cell["key"]] = mean, var / n
        assert cell["units"] == n and cell["value"] == pytest.approx(mean, rel=1e-9)
        half = Z * np.sqrt(var / n)
        assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((mean - half, mean + half))
    change = row["variants"][1]["change"]
    diff = means["b"] - means["control"]
    assert change["absolute"] == pytest.approx(diff, rel=1e-9)
    assert change["ci_low"] < change["absolute"] < change["ci_high"]
    b = next(v for v in data["variants"] if v["key"] == "b")
    assert b["mean"] == pytest.approx(means["b"], rel=1e-9)
    # the fixed-horizon z-test on numpy's moments; the always-valid range is wider, so it
    # may exclude no change only where this test is clearly significant
    z_p = 2 * sps.norm.sf(abs(diff) / np.sqrt(spread["b"] + spread["control"]))
    excludes = change["ci_low"] > 0 or change["ci_high"] < 0
    assert not excludes or z_p < 0.05
    if winner:  # the control costs 1.5x: B is better on a lower-is-better goal
        assert z_p < 1e-10 and change["ci_high"] < 0
        assert data["verdict"]["code"] == "winning" and data["best"] == "b"
        assert row["variants"][1]["verdict"] == "winning"


def _exact_calls(experiment, transferred, n=2000):
    """n calls per variant; exactly `transferred[key]` of them transferred."""
    calls = []
    for v in experiment.variants.all():
        for i in range(n):
            calls.append(
                Call(
                    agent=experiment.agent,
                    call_id=f"t-{v.key}-{i}",
                    experiment=experiment,
                    variant=v,
                    caller=f"t-{v.key}-{i}",
                    started_at=experiment.started_at,
                    converted=i % 5 == 0,
                    transferred=i < transferred[v.key],
                    completed=True,
                )
            )
    Call.objects.bulk_create(calls)


@pytest.mark.parametrize(("threshold", "paused"), [(9.9, True), (10.1, False)])
def test_a_guardrail_pauses_beyond_its_own_threshold_and_not_within_it(
    agent, operator, threshold, paused
):
    """B transfers 15% of calls, the control 5%: 10 points worse, and surely not chance.
    A 9.9-point threshold pauses B; 10.1 points leaves it running."""
    guardrails = [{"metric": "transfer_rate", "threshold_percent": threshold}]
    experiment = _running(agent, operator, guardrails=guardrails)
    _exact_calls(experiment, {"control": 100, "b": 300})
    results_refresh_running()
    b = experiment.variants.get(key="b")
    assert (b.weight == 0) == paused
    guard = experiment.snapshots.latest("computed_at").data["guardrails"][0]
    assert guard["threshold"] == pytest.approx(threshold / 100)
    assert guard["threshold_percent"] == pytest.approx(threshold)
    assert guard["variants"][0]["worse_by"] == pytest.approx(300 / 2000 - 100 / 2000)
    if paused:
        assert f"more than {threshold:g} percentage points worse" in b.paused_reason


def test_each_guardrail_is_held_to_its_own_threshold(agent, operator):
    """Two guardrails 10 points worse each; only the one whose threshold is below 10 pauses."""
    guardrails = [
        {"metric": "transfer_rate", "threshold_percent": 50},
        {"metric": "completion_rate", "threshold_percent": 5},
    ]
    experiment = _running(agent, operator, guardrails=guardrails)
    _exact_calls(experiment, {"control": 100, "b": 300})
    Call.objects.filter(variant__key="b", transferred=True).update(completed=False)
    results_refresh_running()
    b = experiment.variants.get(key="b")
    assert b.weight == 0 and "completion rate" in b.paused_reason
    guards = {g["metric"]: g for g in experiment.snapshots.latest("computed_at").data["guardrails"]}
    assert guards["transfer_rate"]["worse"] == ["b"] and guards["completion_rate"]["worse"] == ["b"]
    assert guards["transfer_rate"]["threshold"] == pytest.approx(0.5)
    assert guards["completion_rate"]["threshold"] == pytest.approx(0.05)


def test_secondary_metrics_are_bh_corrected_and_never_decide(agent, operator):
    """Cost and response time are much worse for B (secondary); the goal, conversion, is
    equal. The experiment's verdict is not "losing"; the secondary rows say worse, with
    p-values adjusted by Benjamini-Hochberg over all secondary rows (scipy)."""
    secondary = ["cost_per_call", "latency_mean", "tokens_per_call", "interruptions_per_call"]
    experiment = _running(agent, operator, guardrails=[], secondary=secondary)
    _calls(experiment, worse="b")
    data = results_compute(experiment=experiment).data
    assert [m["role"] for m in data["metrics"]] == ["goal"] + ["secondary"] * 4
    rows = [_row(data, "secondary", key) for key in secondary]
    assert data["verdict"]["code"] not in ("losing", "guardrail")
    assert rows[0]["variants"][1]["verdict"] == "worse"
    assert rows[1]["variants"][1]["verdict"] == "worse"
    assert rows[0]["variants"][0]["verdict"] is None and rows[0]["variants"][0]["change"] is None
    # the adjusted p-values are BH of the raw always-valid ones (recomputed without correction)
    from apps.results.analysis import _stratified
    from apps.results.services import _arms
    from apps.stats.sequential import sequential

    arms = _arms(experiment)
    raw = [sequential(*_stratified(arms[0], arms[1], key)).absolute.p_value for key in secondary]
    expected = sps.false_discovery_control(raw, method="bh")
    got = [r["variants"][1]["change"]["p_value"] for r in rows]
    assert got == pytest.approx(list(expected), rel=1e-9)
    for r in rows:  # the interval agrees with the corrected decision
        cell = r["variants"][1]
        excludes = cell["change"]["ci_low"] > 0 or cell["change"]["ci_high"] < 0
        assert excludes == (cell["verdict"] != "no_clear_difference")


def test_results_api_lists_goal_guardrail_and_secondary_metrics(agent, operator, api, admin_key):
    guardrails = [{"metric": "transfer_rate", "threshold_percent": 4}]
    experiment = _running(agent, operator, guardrails=guardrails, secondary=["cost_per_call"])
    _calls(experiment, n=300)
    results_compute(experiment=experiment)
    body = api.get(f"/api/v1/experiments/{experiment.pk}/results", key=admin_key).json()
    roles = [(m["key"], m["role"]) for m in body["metrics"]]
    assert roles == [
        ("conversion", "goal"),
        ("transfer_rate", "guardrail"),
        ("cost_per_call", "secondary"),
    ]
    for metric in body["metrics"]:
        assert set(metric) >= {"key", "name", "role", "unit", "direction", "variants"}
        for cell in metric["variants"]:
            assert set(cell) >= {"key", "value", "ci_low", "ci_high", "change", "verdict"}
    cost = body["metrics"][2]
    assert (
        cost["name"] == "Cost per call" and cost["unit"] == "usd" and cost["direction"] == "lower"
    )
    assert set(cost["variants"][1]["change"]) >= {"absolute", "relative", "ci_low", "ci_high"}
    assert cost["variants"][1]["verdict"] in ("better", "worse", "no_clear_difference")
    assert Experiment.objects.get().guardrail_thresholds == {"transfer_rate": 4.0}


def test_the_panel_shows_secondary_rows_after_the_guardrails(agent, operator, client):
    from apps.results.scorecard import scorecard

    experiment = _running(agent, operator, secondary=["cost_per_call"])
    _calls(experiment, n=300, worse="b")
    snapshot = results_compute(experiment=experiment)
    data = snapshot.data
    rows = scorecard(experiment, snapshot.result)
    assert [r["kind"] for r in rows] == ["goal", "guardrail", "secondary"]
    cost = rows[2]
    cell = _row(data, "secondary", "cost_per_call")["variants"][1]
    assert cost["variants"][0]["absolute"] == pytest.approx(cell["change"]["absolute"])
    assert cost["variants"][0]["state"] == {"better": "better", "worse": "worse"}.get(
        cell["verdict"], "not_yet"
    )
    client.force_login(operator)
    panel = client.get(f"/results/{experiment.pk}/").text
    assert "Cost per call" in panel and "secondary, never decides" in panel
