"""Custom-field metrics aggregated per variant on real PostgreSQL, against numpy on the
same calls: what the results of an experiment on the agent are computed from."""

import random
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from apps.calls.models import Call
from apps.metrics import for_agent
from apps.metrics.services import custom_metric_create
from apps.results.aggregation import aggregate
from apps.results.quantiles import ALL as ALL_PHASES
from apps.stats.ratio import ratio_moments

pytestmark = pytest.mark.django_db

# Stored values a metric must ignore: (what the router sent, as JSON text).
IGNORED = ['"12"', '"NaN"', '"Infinity"', "1e13", "-1e13", "1e400", '{"v": 3}', "[1]", "null"]


def _metrics(agent, user):
    custom_metric_create(
        agent=agent,
        user=user,
        key="booked",
        name="Booked a visit",
        field="booked",
        type="boolean",
        direction="higher",
    )
    custom_metric_create(
        agent=agent,
        user=user,
        key="basket",
        name="Basket value",
        field="basket_value",
        type="number",
        direction="higher",
        aggregate="mean",
    )
    custom_metric_create(
        agent=agent,
        user=user,
        key="wait_p95",
        name="Wait, slowest 5%",
        field="wait_s",
        type="number",
        direction="lower",
        aggregate="p95",
    )
    return for_agent(agent.id)


def _fields(rng) -> dict:
    fields = {"note": "hello"}
    if rng.random() < 0.8:
        fields["booked"] = rng.random() < 0.3
    if rng.random() < 0.7:
        fields["basket_value"] = round(rng.lognormvariate(3, 1), 2)
    if rng.random() < 0.9:
        fields["wait_s"] = rng.uniform(0, 30)
    return fields


def _calls(experiment, n=300, callers=120, seed=7):
    rng = random.Random(seed)
    variants = list(experiment.variants.all())
    calls = [
        Call(
            agent=experiment.agent,
            call_id=f"f-{i}",
            experiment=experiment,
            variant=variants[i % 2],
            caller=f"{variants[i % 2].key}-{rng.randrange(callers)}",
            started_at=timezone.now() - timedelta(minutes=rng.randint(1, 900)),
            fields=_fields(rng),
        )
        for i in range(n)
    ]
    Call.objects.bulk_create(calls)
    return calls


def _store_ignored(experiment):
    """Calls whose fields hold what is not a value, written as raw jsonb (1e400 cannot pass
    through Python's float); each field a metric reads gets every kind of bad value."""
    variant = experiment.variants.get(key="b")
    texts = [f'{{"booked": {b}, "basket_value": {b}, "wait_s": {b}}}' for b in IGNORED]
    for i, text in enumerate([*texts, "[1, 2]"]):
        call = Call.objects.create(
            agent=experiment.agent,
            call_id=f"bad-{i}",
            experiment=experiment,
            variant=variant,
            caller=f"bad-{i}",
            started_at=timezone.now(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE calls_call SET fields = %s::jsonb WHERE id = %s", [text, call.pk]
            )


def _expected(calls, variant, field, kind, unit):
    """numpy on the same calls: per unit, (sum of values, number of values)."""
    units: dict[str, list[float]] = {}
    for call in calls:
        value = call.fields.get(field)
        if call.variant_id != variant.id or value is None:
            continue
        value = float(value) if kind == "boolean" else value
        units.setdefault(call.caller if unit == "caller" else call.call_id, []).append(value)
    sums = np.array([sum(v) for v in units.values()])
    counts = np.array([len(v) for v in units.values()])
    return sums, counts


@pytest.mark.parametrize("unit", ["call", "caller"])
def test_custom_metrics_per_variant_equal_numpy_on_the_same_calls(experiment, operator, unit):
    metrics = _metrics(experiment.agent, operator)
    calls = _calls(experiment)
    _store_ignored(experiment)
    stats = aggregate(experiment.id, unit=unit, metrics=tuple(metrics.values()))
    for variant in experiment.variants.all():
        for key, field, kind in [("booked", "booked", "boolean"), ("basket", "basket_value", "n")]:
            sums, counts = _expected(calls, variant, field, kind, unit)
            got = stats[variant.id].metrics[key]
            assert got.n == len(sums)
            assert got.num_sum == pytest.approx(sums.sum())
            assert got.num_sum_squares == pytest.approx((sums**2).sum())
            assert got.den_sum == counts.sum()
            assert ratio_moments(got).mean == pytest.approx(sums.sum() / counts.sum())


def test_ignored_values_leave_a_variant_with_no_value_at_all(experiment, operator):
    metrics = _metrics(experiment.agent, operator)
    _store_ignored(experiment)
    stats = aggregate(experiment.id, unit="call", metrics=tuple(metrics.values()))
    b = experiment.variants.get(key="b")
    assert stats[b.id].calls == len(IGNORED) + 1
    for key in ("booked", "basket"):
        assert stats[b.id].metrics[key].n == 0
        assert stats[b.id].metrics[key].den_sum == 0
    pooled = stats[b.id].quantiles.get(ALL_PHASES, {})  # quantiles are kept apart from sums
    assert "wait_p95" not in pooled or pooled["wait_p95"].n == 0
    assert experiment.variants.get(key="control").id not in stats  # an empty arm: no row


def test_a_quantile_metric_reads_the_values_numpy_takes_the_95th_percentile_of(
    experiment, operator
):
    metric = _metrics(experiment.agent, operator)["wait_p95"]
    assert (metric.kind, metric.quantile, metric.scale) == ("quantile", 0.95, "count")
    calls = _calls(experiment)
    _store_ignored(experiment)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY {metric.value}) "
            "FROM calls_call c WHERE c.experiment_id = %s",
            [experiment.id],
        )
        got = cursor.fetchone()[0]
    values = [c.fields["wait_s"] for c in calls if "wait_s" in c.fields]
    assert got == pytest.approx(np.quantile(values, 0.95))


def test_a_boolean_metric_is_a_rate_and_a_number_metric_a_mean_on_the_count_scale(agent, operator):
    metrics = _metrics(agent, operator)
    assert (metrics["booked"].kind, metrics["booked"].scale) == ("rate", "rate")
    assert (metrics["basket"].kind, metrics["basket"].scale) == ("mean", "count")
    assert metrics["basket"].columns == ("fields",)
    assert list(metrics)[: len(metrics) - 3] == list(for_agent(None))  # built-ins first
