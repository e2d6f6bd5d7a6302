"""The new-experiment planner for a quantile goal (the 95th percentile of response times):
its baseline is what the results would compute for a control that got the agent's recent
calls, on real PostgreSQL, checked against numpy; and by simulation, the planned size gives
the power it promises to the results' own comparison."""

import math
import random
from datetime import timedelta
from statistics import NormalDist

import numpy as np
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.metrics import METRICS
from apps.metrics.services import custom_metric_create
from apps.results import analysis
from apps.results.aggregation import ArmData
from apps.results.quantiles import ALL, _in_python, agent_calls, quantiles_of
from apps.results.selectors import plan_for_form
from apps.results.services import results_compute
from apps.stats.planning import units_per_variant_for_goal
from apps.stats.quantile import quantile_moments, quantile_stats_of_calls
from tests.factories import make_experiment
from tests.results.test_quantile_metric import _by_unit, _numpy_p95

P95 = METRICS["latency_p95"]


def _calls(agent, n, *, callers=None, alike=True, seed=1, **fields):
    """`n` calls of the agent over the last 30 days, from `callers` repeat callers (None: a
    new caller each), one in ten without a latency. `alike`: a caller's calls share their
    own speed (the caller's line, patience); else every call is drawn afresh."""
    rng = random.Random(seed)
    speed = [rng.lognormvariate(0, 0.5) if alike else 1.0 for _ in range(callers or n)]
    now = timezone.now()
    calls = []
    for i in range(n):
        who = rng.randrange(callers) if callers else i
        latency = speed[who] * rng.lognormvariate(6.6, 0.3)
        calls.append(
            Call(
                agent=agent,
                call_id=f"p-{seed}-{i}",
                caller=f"caller-{seed}-{who}",
                started_at=now - timedelta(minutes=rng.randint(5, 29 * 24 * 60)),
                response_latency_ms=None if rng.random() < 0.1 else latency,
                **fields,
            )
        )
    return Call.objects.bulk_create(calls)


def _plan(agent, unit="caller", lift="10", goal="latency_p95"):
    return plan_for_form(agent_slug=agent.slug, goal=goal, min_effect=lift, unit=unit)


def _valid(calls):
    return [c.response_latency_ms for c in calls if c.response_latency_ms is not None]


# The baseline: the results' own numbers on the same calls ------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("unit", ["caller", "call"])
def test_the_forms_p95_plan_is_the_results_plan_for_a_control_that_got_those_calls(
    agent, operator, unit
):
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="latency_p95", unit=unit, min_lift=0.10
    )
    experiment = experiment_start(experiment=experiment, user=operator)
    control = experiment.variants.get(key="control")
    calls = _calls(agent, 2000, callers=400, experiment=experiment, variant=control)

    plan = _plan(agent, unit)
    results = results_compute(experiment=experiment).result

    assert plan["ok"] and plan["baseline_known"] and not plan["too_few"]
    assert plan["per_variant"] == results.plan.calls_per_variant
    assert plan["baseline"].mean == pytest.approx(np.quantile(_valid(calls), 0.95), rel=1e-12)
    assert plan["baseline"].mean == pytest.approx(results.variants[0].mean, rel=1e-12)
    # Independently of apps.stats: Woodruff's variance with the design effect, from numpy.
    units = _by_unit(calls, unit)
    values, q, _, _, var_q = _numpy_p95(units)
    assert values == len(_valid(calls))
    assert plan["baseline"].n == len(units)
    assert plan["baseline"].variance / plan["baseline"].n == pytest.approx(var_q, rel=1e-9)
    expected = units_per_variant_for_goal("latency_p95", q, var_q * len(units), 0.10)
    assert plan["per_variant"] == expected and 100 < expected < 1_000_000


@pytest.mark.django_db
def test_repeat_callers_whose_calls_are_alike_make_the_p95_less_certain_than_as_many_calls(
    agent,
):
    _calls(agent, 3000, callers=300, alike=True)
    by_caller, by_call = _plan(agent, "caller"), _plan(agent, "call")
    assert by_caller["baseline"].mean == by_call["baseline"].mean  # the same calls, one p95
    var_caller = by_caller["baseline"].variance / by_caller["baseline"].n
    var_call = by_call["baseline"].variance / by_call["baseline"].n
    assert var_caller > 1.5 * var_call  # ten calls of one caller tell less than ten callers
    calls_per_caller = 3000 / by_caller["baseline"].n
    assert by_caller["per_variant"] * calls_per_caller > 1.5 * by_call["per_variant"]


@pytest.mark.django_db
def test_repeat_callers_whose_calls_are_independent_change_little(agent):
    _calls(agent, 3000, callers=300, alike=False)
    by_caller, by_call = _plan(agent, "caller"), _plan(agent, "call")
    var_caller = by_caller["baseline"].variance / by_caller["baseline"].n
    var_call = by_call["baseline"].variance / by_call["baseline"].n
    assert 0.75 < var_caller / var_call < 1.33


@pytest.mark.django_db
def test_only_the_last_30_days_count_and_impossible_stored_latencies_are_ignored(agent):
    with connection.cursor() as cursor:  # rows stored before the database refused them
        cursor.execute("ALTER TABLE calls_call DROP CONSTRAINT call_response_latency_range")
    calls = _calls(agent, 500)
    now = timezone.now()
    bad = [float("nan"), float("inf"), -float("inf"), 1e308, -5.0, 600_001.0]
    Call.objects.bulk_create(
        [
            Call(agent=agent, call_id=f"bad-{i}", caller=f"bad-{i}", started_at=now, **value)
            for i, value in enumerate({"response_latency_ms": v} for v in bad)
        ]
        + [
            Call(
                agent=agent,
                call_id=f"old-{i}",
                caller=f"old-{i}",
                started_at=now - timedelta(days=31),
                response_latency_ms=1e5,
            )
            for i in range(100)
        ]
    )
    for unit in ("caller", "call"):
        plan = _plan(agent, unit)
        assert plan["ok"] and plan["baseline"].n == len(_valid(calls))
        assert plan["baseline"].mean == pytest.approx(np.quantile(_valid(calls), 0.95))
        assert math.isfinite(plan["baseline"].variance) and plan["baseline"].variance > 0


@pytest.mark.django_db
def test_the_embedded_databases_python_path_computes_the_same_baseline(agent):
    _calls(agent, 800, callers=200)
    calls = agent_calls(
        agent.pk, since=timezone.now() - timedelta(days=30), unit="caller", metrics=[P95]
    )
    a = quantiles_of(calls, [P95])[0][ALL]["latency_p95"]
    b = _in_python(calls, [P95])[0][ALL]["latency_p95"]
    assert (a.n, a.below) == (b.n, b.below)
    assert (a.quantile, a.lower, a.upper) == pytest.approx((b.quantile, b.lower, b.upper))


@pytest.mark.django_db
def test_a_custom_fields_95th_percentile_is_planned_from_its_values(agent, operator):
    custom_metric_create(
        agent=agent,
        user=operator,
        key="wait_p95",
        name="Wait, slowest 5%",
        field="wait_s",
        type="number",
        direction="lower",
        aggregate="p95",
    )
    rng = random.Random(4)
    waits = [rng.lognormvariate(2, 0.6) for _ in range(600)]
    Call.objects.bulk_create(
        [
            Call(agent=agent, call_id=f"w-{i}", caller=f"w-{i}", started_at=timezone.now(), **f)
            for i, f in enumerate(
                [{"fields": {"wait_s": w}} for w in waits]
                + [{"fields": {"wait_s": "12"}}, {"fields": {}}, {"fields": {"wait_s": 1e13}}]
            )
        ]
    )
    plan = _plan(agent, "call", goal="wait_p95")
    assert plan["ok"] and plan["baseline"].n == 600
    assert plan["baseline"].mean == pytest.approx(np.quantile(waits, 0.95))


# Refusals: no number without a baseline ------------------------------------------------------


@pytest.mark.django_db
def test_too_few_calls_give_no_number_and_say_so(client, operator, agent):
    """72 values are too few for a p95 (apps.stats.quantile: p + h passes 1); 73 are not."""
    now = timezone.now()
    Call.objects.bulk_create(
        [
            Call(agent=agent, call_id=f"f-{i}", caller=f"f-{i}", started_at=now, **latency)
            for i, latency in enumerate([{"response_latency_ms": 500.0 + i} for i in range(72)])
        ]
        + [Call(agent=agent, call_id="f-none", caller="f-none", started_at=now)]  # no latency
    )
    plan = _plan(agent, "call")
    assert not plan["ok"] and plan["too_few"] and plan["per_variant"] is None
    client.force_login(operator)
    url = reverse("results:plan")
    query = {"agent": agent.slug, "goal_kind": "latency_p95", "min_lift_percent": "10"}
    page = client.get(url, {**query, "unit": "call"}).text
    assert "No estimate yet" in page and "95th percentile response time" in page
    assert "at least 73 calls with a value." in page and "per variant" not in page
    Call.objects.create(
        agent=agent, call_id="f-73", caller="f-73", started_at=now, response_latency_ms=9.0
    )
    assert _plan(agent, "call")["ok"]


@pytest.mark.django_db
def test_one_caller_is_no_baseline_in_caller_mode(client, operator, agent):
    _calls(agent, 300, callers=1)
    assert _plan(agent, "call")["ok"]
    plan = _plan(agent, "caller")
    assert not plan["ok"] and plan["too_few"] and plan["per_variant"] is None
    client.force_login(operator)
    query = {"agent": agent.slug, "goal_kind": "latency_p95", "min_lift_percent": "10"}
    page = client.get(reverse("results:plan"), query).text
    assert "No estimate yet" in page and "from two or more callers" in page


@pytest.mark.django_db
def test_a_few_callers_give_an_estimate_that_says_it_is_rough(client, operator, agent):
    _calls(agent, 400, callers=20)
    client.force_login(operator)
    query = {"agent": agent.slug, "goal_kind": "latency_p95", "min_lift_percent": "10"}
    page = client.get(reverse("results:plan"), query).text
    assert "callers per variant" in page
    assert "A rough estimate: measured on only 20 callers of the last 30 days." in page
    assert "typical baseline" not in page  # none is assumed for a p95


@pytest.mark.django_db
def test_the_planner_shows_the_estimate_for_a_p95_goal(client, operator, agent):
    calls = _calls(agent, 1500, callers=500)
    client.force_login(operator)
    query = {"agent": agent.slug, "goal_kind": "latency_p95", "min_lift_percent": "10"}
    page = client.get(reverse("results:plan"), {**query, "unit": "call"}).text
    plan = _plan(agent, "call")
    assert f"About {plan['per_variant']:,} calls per variant" in page
    assert "to detect a 10% lift" in page and "a day, 50/50 split" in page
    p95 = f"{np.quantile(_valid(calls), 0.95):,.0f} ms"
    assert f"95th percentile response time over the last 30 days: {p95}." in page
    assert "No estimate yet" not in page and "typical baseline" not in page


# The plan is honest: power at the planned size, by simulation (no database) -----------------

SIGMA = 0.5  # log-scale spread of response times
MU = math.log(800) - SIGMA**2 / 2  # mean 800 ms
LIFT = 0.10


def _arm(key, values, control):
    stats = quantile_stats_of_calls(np.arange(values.size), values, 0.95)
    by_phase = {0: {P95.key: stats}, ALL: {P95.key: stats}}  # one phase
    data = ArmData(0, values.size, values.size, {}, quantiles=by_phase)
    return analysis.Arm(key, key.upper(), 50, control, data, values.size)


def test_a_p95_planned_on_a_baseline_is_found_4_times_in_5_at_the_planned_size():
    """Response times lognormal (mean 800 ms, sd 0.5 on the log scale; p95 about 1,607 ms);
    the variant is 10% faster on every call, so its p95 is 10% lower. Planned as the form
    plans (the baseline's Moments from apps.stats.quantile, then units_per_variant_for_goal)
    on 1,000,000 baseline calls, so that the baseline's own noise stays small. Then 300
    experiments at exactly the planned calls per variant, each decided by the results
    (analysis.analyse: the always-valid range at this, its final look): count "winning".

    Band 0.75-0.93 around the promised 0.80. The plan is exact for the final look alone, but
    it takes the variant's spread to be the control's, and a variant 10% faster everywhere
    has a p95 spread 10% smaller, so the true power is a little above 80% (84% in a
    4,000-run simulation at the exact variance). 300 runs have a standard error of 2.1
    points, and the baseline's variance, read off the order statistics near the p95, is off
    by about 6% (sd over seeds), which moves the power by about 2 points: the band is 84%
    give or take 3 standard errors of both. A plan sized for a single look (issue 11, item
    7: 0.55 times the size) gets about 49%, and one 1.5 times too big 98%: both fail.
    """
    rng = np.random.default_rng(20240611)
    baseline = rng.lognormal(MU, SIGMA, 1_000_000)
    moments = quantile_moments(quantile_stats_of_calls(np.arange(baseline.size), baseline, 0.95))
    # The baseline's variance against the asymptotic p (1 - p) / f(q)^2 of the lognormal.
    z = NormalDist().inv_cdf(0.95)
    q = math.exp(MU + SIGMA * z)
    density = NormalDist().pdf(z) / (q * SIGMA)
    assert moments.mean == pytest.approx(q, rel=0.01)
    assert moments.variance == pytest.approx(0.95 * 0.05 / density**2, rel=0.2)
    n = units_per_variant_for_goal(P95.key, moments.mean, moments.variance, LIFT)
    setup = analysis.Setup(P95.key, "lower", (), 100, 5000, LIFT, 0.0, unit="call")
    wins = 0
    for _ in range(300):
        control = rng.lognormal(MU, SIGMA, n)
        faster = (1 - LIFT) * rng.lognormal(MU, SIGMA, n)
        result = analysis.analyse(setup, [_arm("control", control, True), _arm("b", faster, False)])
        wins += result.variants[1].verdict.code == "winning"
    assert 0.75 <= wins / 300 <= 0.93, (n, wins)
