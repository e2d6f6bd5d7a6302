"""A percentile goal per segment (apps.results.quantile_segments) on real PostgreSQL: each
group's 95th percentile against numpy on the same calls, each unit in the group of its first
call, countries named in SQL, "Other" as one percentile over the small groups' calls, a single
group's range equal to the scorecard's, and the pooled percentile over a split change."""

import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.services import experiment_start, weights_set
from apps.results.segment_table import segment_table, segment_tables
from apps.results.segments import parse
from apps.results.services import results_compute
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
NUMBERS = ["+1212555", "+1416555", "+4420794", "+3314567", "abc-"]
P = 0.95


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _p95_experiment(operator, unit="caller"):
    experiment = make_experiment(
        agent=make_agent(user=operator), user=operator, goal_kind="latency_p95", unit=unit
    )
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    return experiment


def _calls(experiment, n=1500, callers=500, seed=7, plans=4, start=T0, prefix="q", offset=0):
    """Callers calling 1-5 times; each call's latency lognormal, slower for one caller in
    five; who ended it and a field drawn per call (a caller's later calls may differ)."""
    rng = random.Random(seed)
    variants = list(experiment.variants.order_by("-is_control", "key"))
    slow = {who for who in range(callers) if who % 5 == 0}
    calls = []
    for i in range(n):
        who = rng.randrange(callers)
        latency = rng.lognormvariate(6.6, 0.5) * (1.6 if who in slow else 1.0)
        calls.append(
            Call(
                agent=experiment.agent,
                call_id=f"{prefix}-{i}",
                experiment=experiment,
                variant=variants[who % len(variants)],
                caller=f"{NUMBERS[who % len(NUMBERS)]}{who + offset:04d}",
                started_at=start + timedelta(minutes=rng.randrange(7 * 24 * 60)),
                response_latency_ms=None if rng.random() < 0.05 else latency,
                ended_by=rng.choice(["caller", "agent"]),
                fields={"plan": f"plan-{rng.randrange(plans)}"},
            )
        )
    Call.objects.bulk_create(calls)
    return calls


def _expected(calls, group_of, unit="caller"):
    """Independently, per group and variant key: (units with a value, numpy's p95 of the
    values of the group's units' calls), a unit in the group of its first call."""
    units = defaultdict(list)
    for call in calls:
        units[call.caller if unit == "caller" else call.call_id].append(call)
    values = defaultdict(lambda: defaultdict(list))
    counted = defaultdict(lambda: defaultdict(int))
    for unit_calls in units.values():
        unit_calls.sort(key=lambda c: (c.started_at, c.id))
        first = unit_calls[0]
        mine = [c.response_latency_ms for c in unit_calls if c.variant_id == first.variant_id]
        mine = [v for v in mine if v is not None]
        if mine:
            values[group_of(first)][first.variant.key] += mine
            counted[group_of(first)][first.variant.key] += 1
    return {
        g: {k: (counted[g][k], float(np.quantile(v, P))) for k, v in per.items()}
        for g, per in values.items()
    }


def _by_label(table):
    return {row["label"]: {v["key"]: v for v in row["variants"]} for row in table["values"]}


def _check(table, expected):
    got = _by_label(table)
    assert set(got) == set(expected)
    for label, per_variant in expected.items():
        for key, (units, p95) in per_variant.items():
            assert got[label][key]["units"] == units, (label, key)
            assert got[label][key]["value"] == pytest.approx(p95, rel=1e-9), (label, key)


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_each_hours_p95_is_numpys_on_its_units_calls(operator, unit):
    experiment = _p95_experiment(operator, unit)
    calls = _calls(experiment)
    table = segment_tables(experiment, [parse("hour_of_day")])[0]

    def hour(c):
        h = c.started_at.hour
        return f"{h:02d}:00\u2013{h:02d}:59"

    _check(table, _expected(calls, hour, unit))
    assert table["goal"] == "latency_p95" and table["groups"] == len(table["values"])


def test_who_ended_the_first_call_decides_the_group(operator):
    experiment = _p95_experiment(operator)
    calls = _calls(experiment, seed=8)
    table = segment_tables(experiment, [parse("ended_by")])[0]
    labels = {"caller": "The caller hung up", "agent": "The agent ended the call"}
    _check(table, _expected(calls, lambda c: labels[c.ended_by]))


def test_countries_are_named_in_sql_and_junk_is_unknown(operator):
    experiment = _p95_experiment(operator)
    calls = _calls(experiment, seed=9)
    names = {
        "+1212555": "United States",
        "+1416555": "Canada",
        "+4420794": "United Kingdom",
        "+3314567": "France",
        "abc-": "Unknown",
    }
    table = segment_tables(experiment, [parse("caller_country")])[0]
    _check(
        table,
        _expected(calls, lambda c: names[c.caller[:8]] if c.caller[:4] != "abc-" else "Unknown"),
    )


def test_small_groups_of_a_field_are_one_percentile_as_other(operator):
    """14 plans: the 10 with the most callers are shown, the other 4 are one group whose p95
    is numpy's over all their calls together (not a mix of their own p95s)."""
    experiment = _p95_experiment(operator)
    calls = _calls(experiment, n=2500, callers=900, seed=10, plans=14)
    table = segment_tables(experiment, [parse("field:plan")])[0]
    firsts = _expected(calls, lambda c: c.fields["plan"])
    units = {g: sum(u for u, _ in per.values()) for g, per in firsts.items()}
    top = sorted(units, key=lambda g: (-units[g], g))[:10]
    expected = _expected(
        calls, lambda c: c.fields["plan"] if c.fields["plan"] in top else "All other values"
    )
    _check(table, expected)


def test_one_group_has_the_scorecards_range(operator):
    experiment = _p95_experiment(operator)
    _calls(experiment, seed=11, plans=1)
    snapshot = results_compute(experiment=experiment)
    assert snapshot.result.segments == {}  # a percentile goal keeps none: each costs a scan
    table = segment_table(experiment, snapshot, "field:plan")
    (row,) = table["values"]
    (change,) = row["changes"]
    goal = next(m for m in snapshot.result.metrics if m.role == "goal")
    b = next(cell for cell in goal.variants if cell.key == "b")
    assert change["absolute"] == pytest.approx(b.change.absolute, rel=1e-9)
    assert (change["ci_low"], change["ci_high"]) == pytest.approx(
        (b.change.ci_low, b.change.ci_high), rel=1e-9
    )
    assert "corrected" not in change["sentence"] and " ms " in change["sentence"] + " "


def test_after_a_split_change_each_group_shows_its_pooled_p95(operator):
    experiment = _p95_experiment(operator)
    calls = _calls(experiment, seed=12, start=T0 - timedelta(days=30))
    weights_set(experiment=experiment, weights={"control": 30, "b": 70}, user=operator)
    experiment.refresh_from_db()
    assert len(experiment.phase_starts) == 2
    after = timezone.now() + timedelta(minutes=2)  # every later call in the second phase
    later = _calls(experiment, seed=13, callers=400, prefix="r", start=after, offset=5000)
    from apps.results.quantile_segments import quantile_cells

    goal = experiment.metrics["latency_p95"]
    found = quantile_cells(experiment, parse("ended_by"), goal)
    assert all(set(cell.phases) == {0, 1} for cells in found.values() for cell in cells.values())
    table = segment_tables(experiment, [parse("ended_by")])[0]
    labels = {"caller": "The caller hung up", "agent": "The agent ended the call"}
    _check(table, _expected(calls + later, lambda c: labels[c.ended_by]))


def test_the_api_and_the_page_give_a_percentile_goals_segment(api, admin_key, client, operator):
    experiment = _p95_experiment(operator)
    _calls(experiment, n=400, callers=200)
    results_compute(experiment=experiment)
    body = api.get(
        f"/api/v1/experiments/{experiment.pk}/results?segment=weekday", key=admin_key
    ).json()
    assert body["segment"]["goal"] == "latency_p95" and body["segment"]["values"]
    client.force_login(operator)
    page = client.get(f"/results/{experiment.pk}/segments/?segment=weekday").content.decode()
    assert "corrected for" in page and "ms" in page
    assert "Keep it up to date" not in page  # a percentile goal keeps no segment


def test_a_faster_groups_range_reads_as_the_verdict_does(operator):
    """Lower is better: the sentence's range is how much better (control - variant), as the
    verdict card writes it, while the table's numbers stay variant - control."""
    experiment = _p95_experiment(operator)
    _calls(experiment, seed=14, plans=1)
    table = segment_tables(experiment, [parse("field:plan")])[0]
    (change,) = table["values"][0]["changes"]
    low, high = re.search(r"range ([-+][\d,.]+) to ([-+][\d,.]+) ms", change["sentence"]).groups()
    shown = (float(low.replace(",", "")), float(high.replace(",", "")))
    assert shown == pytest.approx((-change["ci_high"], -change["ci_low"]), rel=0.01, abs=1.0)
