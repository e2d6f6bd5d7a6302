"""Quantile metrics (latency_p95) on real PostgreSQL: each variant's percentile and the
statistics of its interval against numpy on the same calls, the interval against a bootstrap
over callers, rows that must be ignored, phases, and a guardrail that pauses a variant."""

import math
import random
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.metrics import METRICS, Metric
from apps.results.aggregation import aggregate
from apps.results.analysis import Arm
from apps.results.quantiles import ALL, _in_python, aggregate_quantiles, experiment_calls
from apps.results.services import results_compute, results_refresh_running
from apps.stats.quantile import quantile_moments, woodruff_levels
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db
P95 = METRICS["latency_p95"]
Z = 1.959963984540054


def _calls(experiment, per_variant=1500, callers=500, seed=1, slower=1.0, at=None):
    """Repeat callers (one variant each) whose calls share the caller's own speed; about one
    call in ten reports no latency."""
    rng = random.Random(seed)
    now = timezone.now()
    calls = []
    for variant in experiment.variants.all():
        scale = slower if variant.key == "b" else 1.0
        speed = {i: rng.lognormvariate(0, 0.4) for i in range(callers)}
        for i in range(per_variant):
            who = rng.randrange(callers)
            latency = (
                None if rng.random() < 0.1 else scale * speed[who] * rng.lognormvariate(6.6, 0.3)
            )
            calls.append(
                Call(
                    agent=experiment.agent,
                    call_id=f"q-{variant.key}-{seed}-{i}",
                    experiment=experiment,
                    variant=variant,
                    caller=f"{variant.key}-{seed}-{who}",
                    started_at=at or now - timedelta(minutes=rng.randint(5, 600)),
                    response_latency_ms=latency,
                )
            )
    Call.objects.bulk_create(calls)
    return calls


def _by_unit(calls, unit):
    units: dict[str, list[float]] = {}
    for c in calls:
        who = c.caller if unit == "caller" else c.call_id
        units.setdefault(who, [])
        if c.response_latency_ms is not None:
            units[who].append(c.response_latency_ms)
    return [np.array(v) for v in units.values() if v]


def _numpy_p95(units):
    """The p95, its Woodruff bounds and the clustered variance, written from the formulas
    with numpy alone (not apps.stats)."""
    values = np.concatenate(units)
    n = values.size
    h = Z * math.sqrt(0.95 * 0.05 / n)
    lower, q, upper = np.quantile(values, [0.95 - h, 0.95, min(1.0, 0.95 + h)])
    below = np.array([(u <= q).sum() for u in units], float)
    size = np.array([u.size for u in units], float)
    cov = np.cov(below, size, ddof=1)
    mb, ms = below.mean(), size.mean()
    var_share = (cov[0, 0] / ms**2 - 2 * mb * cov[0, 1] / ms**3 + mb**2 * cov[1, 1] / ms**4) / len(
        units
    )
    var_q = ((upper - lower) / (2 * Z)) ** 2 * var_share / (0.95 * 0.05 / n)
    return n, q, lower, upper, var_q


@pytest.fixture
def started(agent, operator):
    def start(unit="caller", **kwargs):
        experiment = make_experiment(agent=agent, unit=unit, **kwargs)
        return experiment_start(experiment=experiment, user=operator)

    return start


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_each_variants_p95_and_its_variance_match_numpy_on_the_same_calls(started, unit):
    experiment = started(unit)
    calls = _calls(experiment)
    stats = aggregate(experiment.id, unit=unit)
    for variant in experiment.variants.all():
        units = _by_unit([c for c in calls if c.variant_id == variant.id], unit)
        n, q, lower, upper, var_q = _numpy_p95(units)
        got = stats[variant.id].quantiles[ALL]["latency_p95"]
        assert (got.n, got.below.n) == (n, len(units))
        assert got.quantile == pytest.approx(q, rel=1e-12)
        assert (got.lower, got.upper) == pytest.approx((lower, upper), rel=1e-12)
        m = quantile_moments(got)
        assert (m.n, m.mean) == (len(units), pytest.approx(q, rel=1e-12))
        assert m.variance / m.n == pytest.approx(var_q, rel=1e-9)
        assert "latency_p95" not in stats[variant.id].metrics  # never summed as a mean


def test_the_interval_agrees_with_a_bootstrap_over_callers(started):
    """Resampling whole callers (the clustered bootstrap) is an independent estimate of the
    p95's standard error; the order-statistic one should be within a fifth of it."""
    experiment = started("caller")
    calls = _calls(experiment, per_variant=3000, callers=600)
    stats = aggregate(experiment.id, unit="caller")
    control = experiment.variants.get(key="control")
    units = _by_unit([c for c in calls if c.variant_id == control.id], "caller")
    rng = np.random.default_rng(0)
    draws = [
        np.quantile(
            np.concatenate([units[i] for i in rng.integers(0, len(units), len(units))]), 0.95
        )
        for _ in range(600)
    ]
    m = quantile_moments(stats[control.id].quantiles[ALL]["latency_p95"])
    assert math.sqrt(m.variance / m.n) == pytest.approx(np.std(draws, ddof=1), rel=0.2)


def test_calls_without_a_latency_and_impossible_stored_values_are_ignored(started):
    experiment = started("call")
    with connection.cursor() as cursor:  # rows stored before the database refused them
        cursor.execute("ALTER TABLE calls_call DROP CONSTRAINT call_response_latency_range")
    calls = _calls(experiment, per_variant=400)
    b = experiment.variants.get(key="b")
    for i, bad in enumerate([float("nan"), float("inf"), -float("inf"), 1e308, -5.0]):
        Call.objects.create(
            agent=experiment.agent,
            call_id=f"bad-{i}",
            experiment=experiment,
            variant=b,
            caller=f"bad-{i}",
            started_at=timezone.now() - timedelta(minutes=3),
            response_latency_ms=bad,
        )
    got = aggregate(experiment.id, unit="call")[b.id].quantiles[ALL]["latency_p95"]
    values = [c.response_latency_ms for c in calls if c.variant_id == b.id]
    values = [v for v in values if v is not None]
    assert got.n == len(values) and got.quantile == pytest.approx(np.quantile(values, 0.95))


def test_phases_have_their_own_p95_and_the_pooled_one_is_over_all_calls(started):
    experiment = started("caller")
    start = timezone.now() - timedelta(days=2)
    change = timezone.now() - timedelta(days=1)
    early = _calls(experiment, per_variant=600, seed=1, at=change - timedelta(hours=3))
    late = _calls(experiment, per_variant=600, seed=2, at=change + timedelta(hours=3), slower=1.5)
    stats = aggregate(experiment.id, unit="caller", phase_starts=[start, change])
    for variant in experiment.variants.all():
        for phase, calls in ((0, early), (1, late), (ALL, early + late)):
            mine = [c.response_latency_ms for c in calls if c.variant_id == variant.id]
            expected = np.quantile([v for v in mine if v is not None], 0.95)
            got = stats[variant.id].quantiles[phase]["latency_p95"]
            assert got.quantile == pytest.approx(expected, rel=1e-12), (variant.key, phase)
        arm = Arm(variant.key, variant.name, 50, variant.is_control, stats[variant.id])
        assert set(arm.phase_moments("latency_p95")) == {0, 1}
        assert (
            arm.moments("latency_p95").mean
            == stats[variant.id].quantiles[ALL]["latency_p95"].quantile
        )


def test_the_python_path_of_the_embedded_database_computes_the_same(started):
    experiment = started("caller")
    _calls(experiment, per_variant=500)
    start = timezone.now() - timedelta(days=2)
    phases = [start, timezone.now() - timedelta(hours=5)]
    sql = aggregate_quantiles(experiment.id, unit="caller", phase_starts=phases, metrics=[P95])
    calls = experiment_calls(experiment.id, unit="caller", phase_starts=phases, metrics=[P95])
    python = _in_python(calls, [P95])
    assert sql.keys() == python.keys()
    for variant_id, groups in sql.items():
        assert groups.keys() == python[variant_id].keys()
        for group, by_metric in groups.items():
            a, b = by_metric["latency_p95"], python[variant_id][group]["latency_p95"]
            assert (a.n, a.below) == (b.n, b.below)
            assert (a.quantile, a.lower, a.upper) == pytest.approx((b.quantile, b.lower, b.upper))


def test_any_quantile_metric_works_from_its_value_sql_in_one_scan(
    started, django_assert_num_queries
):
    """A median of durations declared as a registry entry would be; every quantile metric
    rides in the same one extra query."""
    median = Metric(
        "duration_p50",
        "Median call duration",
        "median call duration",
        "quantile",
        "seconds",
        "lower",
        "DURATION",
        ("duration_seconds",),
        quantile=0.5,
    )
    experiment = started("call")
    calls = _calls(experiment, per_variant=300)
    for c in calls:
        c.duration_seconds = (c.response_latency_ms or 0) / 10 or None
    Call.objects.bulk_update(calls, ["duration_seconds"])
    with django_assert_num_queries(2):  # the sums, then every quantile metric at once
        stats = aggregate(experiment.id, unit="call", metrics=[P95, median, METRICS["sentiment"]])
    control = experiment.variants.get(key="control")
    durations = [c.duration_seconds for c in calls if c.variant_id == control.id]
    got = stats[control.id].quantiles[ALL]
    assert got["duration_p50"].quantile == pytest.approx(
        np.median([d for d in durations if d is not None])
    )
    assert got["duration_p50"].lower == pytest.approx(
        np.quantile(
            [d for d in durations if d is not None], woodruff_levels(0.5, got["duration_p50"].n)[0]
        )
    )


def test_one_arm_without_latencies_reads_not_enough_data(started):
    experiment = started("call", guardrails=["latency_p95"])
    calls = _calls(experiment, per_variant=300)
    b = experiment.variants.get(key="b")
    Call.objects.filter(variant=b).update(response_latency_ms=None)
    snapshot = results_compute(experiment=experiment)
    guard = snapshot.data["guardrails"][0]
    assert guard["metric"] == "latency_p95" and guard["worse"] == []
    assert guard["variants"][0]["ok"] is False
    row = next(r for r in snapshot.data["metrics"] if r["key"] == "latency_p95")
    cells = {c["key"]: c for c in row["variants"]}
    control = [c.response_latency_ms for c in calls if c.variant.key == "control"]
    assert cells["control"]["value"] == pytest.approx(
        np.quantile([v for v in control if v is not None], 0.95)
    )
    assert cells["b"]["value"] is None and cells["b"]["units"] == 0


def test_a_p95_guardrail_pauses_a_variant_whose_slowest_calls_got_slower(started):
    """One call in ten gets 3x slower: the slow tail the p95 watches."""
    experiment = started("call", guardrails=["latency_p95"])
    rng = random.Random(3)
    variants = {v.key: v for v in experiment.variants.all()}
    Call.objects.bulk_create(
        [
            Call(
                agent=experiment.agent,
                call_id=f"g-{key}-{i}",
                experiment=experiment,
                variant=variants[key],
                caller=f"g-{key}-{i}",
                started_at=timezone.now() - timedelta(minutes=20),
                response_latency_ms=rng.lognormvariate(6.6, 0.3)
                * (3 if key == "b" and rng.random() < 0.1 else 1),
            )
            for key in ("control", "b")
            for i in range(3000)
        ]
    )
    assert results_refresh_running() == 1
    b = experiment.variants.get(key="b")
    assert b.weight == 0 and b.paused_weight == 50
    assert "95th percentile response time" in b.paused_reason
