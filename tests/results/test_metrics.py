"""The metric registry (apps/metrics) on real PostgreSQL: every built-in metric's value per
variant and the variance its interval uses, against numpy on the same calls; guardrails on
the new metrics pause a variant."""

import random
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.metrics import METRICS, guardrail_keys
from apps.results.aggregation import aggregate
from apps.results.services import results_compute, results_refresh_running
from apps.stats.ratio import ratio_moments
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def _random_call(experiment, variant, caller, i, rng, worse=False):
    tool_calls = rng.choice([None, 0, 1, 2, 3, 5])
    return Call(
        agent=experiment.agent,
        call_id=f"m-{variant.key}-{i}",
        experiment=experiment,
        variant=variant,
        caller=caller,
        started_at=timezone.now() - timedelta(minutes=rng.randint(5, 600)),
        duration_seconds=rng.choice([None, rng.uniform(10, 600)]),
        converted=rng.choice([None, True, False, False]),
        sentiment=rng.choice([None, rng.uniform(-1, 1)]),
        transferred=rng.random() < 0.1,
        completed=rng.choice([None, True]),
        response_latency_ms=rng.choice(
            [None, rng.lognormvariate(6.6, 0.4) * (1.3 if worse else 1)]
        ),
        cost_usd=rng.choice([None, rng.uniform(0.01, 0.2) * (1.5 if worse else 1)]),
        tokens_in=rng.choice([None, rng.randint(100, 9000)]),
        tokens_out=rng.choice([None, rng.randint(10, 900)]),
        tool_calls=tool_calls,
        tool_errors=None if tool_calls is None else rng.randint(0, tool_calls),
        interruptions=rng.choice([None, 0, 1, 2, 4]),
        ended_by=rng.choice(["", "caller", "agent", "transfer", "error"]),
    )


def _value(call: Call, key: str):
    """Each metric's per-call (value, weight), written independently of the registry's SQL."""
    if key == "conversion":
        return None if call.converted is None else (float(call.converted), 1.0)
    if key == "sentiment":
        return None if call.sentiment is None else (call.sentiment, 1.0)
    if key == "duration":
        return None if call.duration_seconds is None else (call.duration_seconds, 1.0)
    if key == "transfer_rate":
        return None if call.transferred is None else (float(call.transferred), 1.0)
    if key == "completion_rate":
        return None if call.completed is None else (float(call.completed), 1.0)
    if key == "latency_mean":
        return None if call.response_latency_ms is None else (call.response_latency_ms, 1.0)
    if key == "cost_per_call":
        return None if call.cost_usd is None else (call.cost_usd, 1.0)
    if key == "tokens_per_call":
        if call.tokens_in is None and call.tokens_out is None:
            return None
        return float((call.tokens_in or 0) + (call.tokens_out or 0)), 1.0
    if key == "tool_success_rate":
        if not call.tool_calls or call.tool_errors is None:
            return None
        return float(call.tool_calls - call.tool_errors), float(call.tool_calls)
    if key == "interruptions_per_call":
        return None if call.interruptions is None else (float(call.interruptions), 1.0)
    if key == "caller_hangup_rate":
        return None if call.ended_by == "" else (float(call.ended_by == "caller"), 1.0)
    if key == "error_end_rate":
        return None if call.ended_by == "" else (float(call.ended_by == "error"), 1.0)
    raise AssertionError(f"no independent computation for {key}: add one")


def _numpy_moments(calls, key):
    """Per unit (caller) sums of values and weights, then the ratio's mean and its per-unit
    delta-method variance, with numpy (Deng et al. 2018, eq. 3)."""
    units: dict[str, list[float]] = {}
    for call in calls:
        pair = _value(call, key)
        if pair is None:
            continue
        num_den = units.setdefault(call.caller, [0.0, 0.0])
        num_den[0] += pair[0]
        num_den[1] += pair[1]
    if len(units) < 2:
        return len(units), None, None
    num = np.array([u[0] for u in units.values()])
    den = np.array([u[1] for u in units.values()])
    mean = num.sum() / den.sum()
    cov = np.cov(num, den, ddof=1)
    mx, my = num.mean(), den.mean()
    var = cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4
    return len(units), mean, var


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_each_metrics_value_and_variance_match_numpy_on_the_same_calls(agent, operator, unit):
    experiment = experiment_start(experiment=make_experiment(agent=agent, unit=unit), user=operator)
    rng = random.Random(12)
    calls = []
    for variant in experiment.variants.all():
        for i in range(900):
            caller = f"{variant.key}-{rng.randint(0, 399)}"  # repeat callers, one variant each
            calls.append(_random_call(experiment, variant, caller, i, rng))
    Call.objects.bulk_create(calls)
    stats = aggregate(experiment.id, unit=unit)
    for variant in experiment.variants.all():
        mine = [c for c in calls if c.variant_id == variant.id]
        if unit == "call":
            for c in mine:
                c.caller = c.call_id  # each call its own unit
        for key in METRICS:
            if key == "custom" or METRICS[key].kind == "quantile":  # test_quantile_metric.py
                continue
            n, mean, var = _numpy_moments(mine, key)
            got = ratio_moments(stats[variant.id].metrics[key])
            assert got.n == n, key
            assert got.mean == pytest.approx(mean, rel=1e-9), key
            assert got.variance == pytest.approx(var, rel=1e-7), key


@pytest.mark.parametrize(
    ("guardrail", "label"),
    [("cost_per_call", "cost per call"), ("latency_mean", "response time")],
)
def test_a_guardrail_on_how_the_agent_runs_pauses_a_worse_variant(
    agent, operator, guardrail, label
):
    experiment = experiment_start(
        experiment=make_experiment(agent=agent, unit="call", guardrails=[guardrail]),
        user=operator,
    )
    rng = random.Random(4)
    variants = {v.key: v for v in experiment.variants.all()}
    Call.objects.bulk_create(
        [
            _random_call(experiment, variants[key], f"{key}-{i}", i, rng, worse=key == "b")
            for key in ("control", "b")
            for i in range(4000)
        ]
    )
    assert results_refresh_running() == 1
    b = experiment.variants.get(key="b")
    assert b.weight == 0 and b.paused_weight == 50
    assert label in b.paused_reason and "higher" in b.paused_reason


def test_a_tool_success_guardrail_pauses_a_variant_whose_tools_fail_more(agent, operator):
    experiment = experiment_start(
        experiment=make_experiment(agent=agent, unit="call", guardrails=["tool_success_rate"]),
        user=operator,
    )
    rng = random.Random(8)
    variants = {v.key: v for v in experiment.variants.all()}
    calls = []
    for key, failing in (("control", 0.05), ("b", 0.25)):
        for i in range(3000):
            tools = rng.randint(1, 4)
            errors = sum(rng.random() < failing for _ in range(tools))
            calls.append(
                Call(
                    agent=agent,
                    call_id=f"t-{key}-{i}",
                    experiment=experiment,
                    variant=variants[key],
                    caller=f"{key}-{i}",
                    started_at=timezone.now() - timedelta(minutes=30),
                    converted=False,
                    tool_calls=tools,
                    tool_errors=errors,
                )
            )
    Call.objects.bulk_create(calls)
    snapshot = results_compute(experiment=experiment)
    guard = snapshot.data["guardrails"][0]
    assert guard["metric"] == "tool_success_rate" and guard["worse"] == ["b"]
    assert results_refresh_running() == 1
    assert experiment.variants.get(key="b").weight == 0


def test_every_guardrail_the_forms_offer_is_a_metric_with_a_direction():
    assert set(guardrail_keys()) <= set(METRICS)
    assert {"cost_per_call", "tool_success_rate", "latency_mean"} <= set(guardrail_keys())
    assert "conversion" not in guardrail_keys()


def test_a_new_metric_is_one_registry_entry(agent, operator, monkeypatch):
    """Declared once, a metric is aggregated, analysed, offered and labelled everywhere."""
    from apps.metrics import Metric

    voicemail = Metric(
        "voicemail_rate",
        "Voicemail rate",
        "voicemail rate",
        "rate",
        "rate",
        "lower",
        "CASE WHEN c.end_reason = '' THEN NULL "
        "WHEN c.end_reason = 'voicemail' THEN 1.0 ELSE 0.0 END",
        ("end_reason",),
    )
    monkeypatch.setitem(METRICS, "voicemail_rate", voicemail)
    assert "voicemail_rate" in guardrail_keys()
    experiment = experiment_start(
        experiment=make_experiment(agent=agent, unit="call", guardrails=["voicemail_rate"]),
        user=operator,
    )
    variants = {v.key: v for v in experiment.variants.all()}
    Call.objects.bulk_create(
        [
            Call(
                agent=agent,
                call_id=f"v-{key}-{i}",
                experiment=experiment,
                variant=variants[key],
                caller=f"{key}-{i}",
                started_at=timezone.now() - timedelta(minutes=10),
                end_reason="voicemail" if i % share == 0 else "done",
            )
            for key, share in (("control", 10), ("b", 4))
            for i in range(400)
        ]
    )
    snapshot = results_compute(experiment=experiment)
    guard = snapshot.data["guardrails"][0]
    assert (guard["metric"], guard["label"], guard["direction"]) == (
        "voicemail_rate",
        "voicemail rate",
        "lower",
    )
    rows = {row["key"]: row for row in guard["variants"]}
    assert rows["b"]["mean"] == pytest.approx(100 / 400)
    assert rows["b"]["change_text"].startswith("15 points higher")
    assert experiment.guardrail_labels == ["Voicemail rate"]


def test_the_results_api_lists_every_metric_in_one_shape(agent, operator, api, admin_key):
    experiment = experiment_start(
        experiment=make_experiment(
            agent=agent, unit="call", guardrails=["cost_per_call", "transfer_rate"]
        ),
        user=operator,
    )
    rng = random.Random(2)
    variants = list(experiment.variants.all())
    calls = [
        _random_call(experiment, v, f"{v.key}-{i}", i, rng) for v in variants for i in range(400)
    ]
    Call.objects.bulk_create(calls)
    body = api.get(f"/api/v1/experiments/{experiment.pk}/results?fresh=1", key=admin_key).json()
    metrics = {m["key"]: m for m in body["metrics"]}
    assert [m["role"] for m in body["metrics"]] == ["goal", "guardrail", "guardrail"]
    assert metrics["cost_per_call"]["unit"] == "usd"
    assert metrics["cost_per_call"]["direction"] == "lower"
    b_cost = next(v for v in metrics["cost_per_call"]["variants"] if v["key"] == "b")
    costs = [c.cost_usd for c in calls if c.variant.key == "b" and c.cost_usd is not None]
    assert b_cost["value"] == pytest.approx(np.mean(costs), rel=1e-9)
    assert b_cost["verdict"] in ("worse", "safe", "not_yet")
    goal_b = next(v for v in metrics["conversion"]["variants"] if v["key"] == "b")
    b_row = next(v for v in body["variants"] if v["key"] == "b")
    assert goal_b["change"]["ci_low"] == b_row["lift"]["ci_low"]
    assert goal_b["verdict"] == b_row["verdict"]["code"]
    control = next(v for v in metrics["conversion"]["variants"] if v["key"] == "control")
    assert control["change"] is None and control["verdict"] is None
