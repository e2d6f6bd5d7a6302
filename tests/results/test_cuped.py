"""CUPED's covariate query on real PostgreSQL: each caller's history against a Python
computation on the same calls, the 30-day window, and what the results and the page show."""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.metrics import METRICS
from apps.results import cuped as results_cuped
from apps.results.cuped import covariates
from apps.results.services import results_compute
from apps.stats.cuped import covariate_stats_from_units
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def cuped_on(monkeypatch):
    """CUPED on for every goal it could serve, not only those shown in the simulation."""
    monkeypatch.setattr(results_cuped, "GOALS", frozenset(METRICS))


class Calls:
    """Calls written with bulk_create, and kept here for the independent computation."""

    def __init__(self, agent):
        self.agent, self.rows, self.i = agent, [], 0

    def add(self, caller, at, converted, experiment=None, variant=None, agent=None, **extra):
        self.i += 1
        call = Call(
            agent=agent or self.agent,
            call_id=f"k-{self.i}",
            experiment=experiment,
            variant=variant,
            caller=caller,
            started_at=at,
            converted=converted,
            **extra,
        )
        self.rows.append(call)
        return call

    def save(self):
        Call.objects.bulk_create(self.rows)


def _history_world(agent, experiment, seed=3, callers=300):
    """Callers with a propensity; some called in the 30 days before their first exposure,
    some only longer ago, some again after it outside the experiment; another agent's calls
    too. Returns the Calls and, per caller, (variant id, first exposure)."""
    rng = random.Random(seed)
    other = make_agent(name="Billing")
    calls, first = Calls(agent), {}
    variants = list(experiment.variants.all())
    start = timezone.now() - timedelta(days=5)
    for i in range(callers):
        caller, p = f"+1555{i:04d}", rng.betavariate(0.7, 4)
        variant, at = variants[i % 2], start + timedelta(minutes=rng.randint(0, 5000))
        first[caller] = (variant.id, at)
        for _ in range(rng.choice([0, 0, 1, 3, 6])):  # within the 30 days before
            calls.add(caller, at - timedelta(days=rng.uniform(0.01, 29.9)), rng.random() < p)
        for _ in range(rng.choice([0, 1])):  # too old, after exposure, another agent
            calls.add(caller, at - timedelta(days=rng.uniform(30.01, 90)), rng.random() < p)
            calls.add(caller, at + timedelta(hours=rng.uniform(0.1, 40)), True)
            calls.add(caller, at - timedelta(days=2), True, agent=other)
        for k in range(rng.choice([1, 1, 2, 4])):
            when = at + timedelta(hours=k * rng.uniform(1, 30))
            calls.add(caller, when, rng.random() < p * 1.3, experiment, variant)
    calls.save()
    return calls, first


def _python_units(calls, first, agent, variant_id):
    """Per caller of the variant: post (num, den) over counted calls and pre (num, den) over
    the agent's calls in [first - 30 days, first), by plain Python on the Call objects."""
    rows = []
    for caller, (vid, at) in first.items():
        if vid != variant_id:
            continue
        mine = [c for c in calls.rows if c.caller == caller and c.agent_id == agent.id]
        post = [c for c in mine if c.variant_id == vid and c.converted is not None]
        pre = [
            c
            for c in mine
            if at - timedelta(days=30) <= c.started_at < at and c.converted is not None
        ]
        if post:
            rows.append(
                (sum(c.converted for c in post), len(post), sum(c.converted for c in pre), len(pre))
            )
    return [np.array(col, dtype=float) for col in zip(*rows, strict=True)]


def test_each_callers_history_matches_python_on_the_same_calls(agent, operator):
    experiment = experiment_start(experiment=make_experiment(agent=agent), user=operator)
    calls, first = _history_world(agent, experiment)
    got = covariates(experiment.id, agent_id=agent.id, metric=METRICS["conversion"])
    for variant in experiment.variants.all():
        expected = covariate_stats_from_units(*_python_units(calls, first, agent, variant.id))
        mine = got[variant.id][0]
        assert mine.ratio == pytest.approx(expected.ratio)
        assert mine.with_history == expected.with_history > 20
        for name in ("x_sum", "xx_sum", "x_num_sum", "x_den_sum"):
            assert getattr(mine, name) == pytest.approx(getattr(expected, name), rel=1e-12)


def test_calls_older_than_30_days_or_after_exposure_are_not_history(agent, operator):
    experiment = experiment_start(experiment=make_experiment(agent=agent), user=operator)
    control = experiment.variants.get(is_control=True)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    calls = Calls(agent)
    calls.add("old", at - timedelta(days=30, seconds=1), True)
    calls.add("old", at, False, experiment, control)
    calls.add("edge", at - timedelta(days=30), True)  # exactly 30 days: inside
    calls.add("edge", at, False, experiment, control)
    calls.add("later", at + timedelta(minutes=1), True)  # after exposure, not counted
    calls.add("later", at, False, experiment, control)
    calls.add("later", at + timedelta(days=1), None, experiment, control)  # no value
    calls.add("y9999", datetime(9999, 12, 20, tzinfo=UTC), True)
    calls.add("y9999", datetime(9999, 12, 31, 23, 59, tzinfo=UTC), False, experiment, control)
    calls.save()
    got = covariates(experiment.id, agent_id=agent.id, metric=METRICS["conversion"])[control.id]
    stats = got[0]
    assert stats.ratio.n == 4 and stats.ratio.num_sum == 0
    assert stats.with_history == 2  # "edge" and "y9999"
    assert stats.x_sum == (2.0, 2.0)  # both converted in their one call of history


def test_results_use_the_adjusted_goal_and_say_how_much_noise_went(
    agent, operator, viewer, client, cuped_on
):
    experiment = experiment_start(experiment=make_experiment(agent=agent), user=operator)
    calls, first = _history_world(agent, experiment, seed=8, callers=400)
    data = results_compute(experiment=experiment).data
    variants = list(experiment.variants.order_by("-is_control", "key"))
    units = [_python_units(calls, first, agent, v.id) for v in variants]
    _theta, means, removed = _numpy_cuped(units)
    assert data["cuped"]["variance_removed"] == pytest.approx(removed, rel=1e-9)
    assert data["cuped"]["variance_removed"] > 0.02
    assert data["cuped"]["units_with_history"] == sum(int((u[3] > 0).sum()) for u in units)
    by_key = {v["key"]: v for v in data["cuped"]["variants"]}
    for variant, (mean, se) in zip(variants, means, strict=True):
        shown = by_key[variant.key]
        assert shown["value"] == pytest.approx(mean, rel=1e-9)
        assert shown["ci_high"] - shown["value"] == pytest.approx(1.959964 * se, rel=1e-6)
    lift = data["variants"][1]["lift"]["absolute"]
    assert lift == pytest.approx(means[1][0] - means[0][0], rel=1e-9)
    raw = data["variants"][1]["mean"] - data["variants"][0]["mean"]
    assert lift != pytest.approx(raw, rel=1e-6)  # the adjustment did move it
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert f"Caller history removed {round(100 * removed)}% of the noise" in panel


def _numpy_cuped(units):
    """Independent: theta by numpy least squares on the pooled group-centred rows; each arm's
    adjusted mean and standard error; the share of variance removed."""
    parts = []
    for num, den, pre_num, pre_den in units:
        has = pre_den > 0
        x = np.column_stack([np.where(has, pre_num / np.where(has, pre_den, 1), 0), has * 1.0])
        r = num.sum() / den.sum()
        parts.append((r, x, (num - r * den) / den.mean()))
    cx = np.vstack([x - x.mean(axis=0) for _, x, _ in parts])
    cl = np.concatenate([lin - lin.mean() for _, _, lin in parts])
    theta = np.linalg.lstsq(cx, cl, rcond=None)[0]
    centre = np.vstack([x for _, x, _ in parts]).mean(axis=0)
    means = [
        (r - (x.mean(axis=0) - centre) @ theta, np.std(lin - x @ theta, ddof=1) / len(lin) ** 0.5)
        for r, x, lin in parts
    ]
    removed = 1 - ((cl - cx @ theta) ** 2).sum() / (cl**2).sum()
    return theta, means, removed


def test_nobody_with_history_changes_nothing_and_the_page_says_nothing(
    agent, operator, viewer, client, cuped_on
):
    experiment = experiment_start(experiment=make_experiment(agent=agent), user=operator)
    calls, rng = Calls(agent), random.Random(1)
    for i, variant in enumerate(list(experiment.variants.all()) * 150):
        calls.add(f"n{i}", timezone.now(), rng.random() < 0.3, experiment, variant)
    calls.save()
    data = results_compute(experiment=experiment).data
    assert data["cuped"]["units_with_history"] == 0
    assert data["cuped"]["variance_removed"] == 0
    lift = data["variants"][1]["lift"]["absolute"]
    assert lift == pytest.approx(data["variants"][1]["mean"] - data["variants"][0]["mean"])
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "Caller history removed" not in panel


@pytest.mark.parametrize(
    ("unit", "goal"), [("call", "conversion"), ("caller", "custom"), ("caller", "sentiment")]
)
def test_cuped_is_off_in_call_mode_and_for_the_judge(
    agent, operator, unit, goal, cuped_on, settings
):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://127.0.0.1:9/v1", "llama3"
    criteria = {"goal_criteria": "The caller books a visit."} if goal == "custom" else {}
    experiment = make_experiment(agent=agent, unit=unit, goal_kind=goal, **criteria)
    assert results_cuped.applies(unit=unit, goal=goal) == (unit == "caller" and goal != "custom")
    experiment = experiment_start(experiment=experiment, user=operator)
    calls = Calls(agent)
    for i, variant in enumerate(list(experiment.variants.all()) * 5):
        calls.add(f"m{i}", timezone.now(), True, experiment, variant, sentiment=0.1 * (i % 3))
    calls.save()
    data = results_compute(experiment=experiment).data
    assert (data["cuped"] is None) == (unit == "call" or goal == "custom")


@pytest.mark.parametrize(
    ("goal", "unit", "on"),
    [
        ("duration", "caller", True),
        ("duration", "call", False),
        ("conversion", "caller", False),
        ("sentiment", "caller", False),
        ("custom", "caller", False),
    ],
)
def test_it_is_on_by_default_only_for_duration_in_caller_mode(goal, unit, on):
    assert results_cuped.applies(unit=unit, goal=goal) is on


def test_a_conversion_goal_is_not_adjusted_by_default(agent, operator):
    experiment = experiment_start(experiment=make_experiment(agent=agent), user=operator)
    assert results_compute(experiment=experiment).data["cuped"] is None


def _duration_world(agent, experiment, seed=5, callers=400):
    """Callers with their own typical call length (lognormal); some called in the 30 days
    before their first exposure, some long before; returns Calls and, per caller, (variant
    id, first exposure)."""
    rng = np.random.default_rng(seed)
    calls, first = Calls(agent), {}
    variants = list(experiment.variants.all())
    start = timezone.now() - timedelta(days=3)
    for i in range(callers):
        caller, speed = f"+1666{i:04d}", np.log(180) + rng.normal(0, 0.6)
        variant, at = variants[i % 2], start + timedelta(minutes=int(rng.integers(0, 4000)))
        first[caller] = (variant.id, at)

        for _ in range(int(rng.choice([0, 0, 1, 4]))):
            calls.add(
                caller,
                at - timedelta(days=float(rng.uniform(0.01, 29.9))),
                None,
                duration_seconds=_length(rng, speed),
            )
        if rng.random() < 0.3:  # too old to be history
            calls.add(caller, at - timedelta(days=45), None, duration_seconds=86_400.0)
        for k in range(int(rng.choice([1, 1, 3]))):
            calls.add(
                caller,
                at + timedelta(hours=k),
                None,
                experiment,
                variant,
                duration_seconds=_length(rng, speed),
            )
    calls.save()
    return calls, first


def _length(rng, speed: float) -> float:
    """One call's seconds around the caller's own typical length, within what a call can be."""
    return float(min(np.exp(speed + rng.normal(0, 0.4)), 86_400))


def _duration_units(calls, first, agent, variant_id):
    """Per caller of the variant: post (sum, count) and pre (sum, count) of durations."""
    rows = []
    for caller, (vid, at) in first.items():
        if vid != variant_id:
            continue
        mine = [c for c in calls.rows if c.caller == caller and c.agent_id == agent.id]
        post = [c.duration_seconds for c in mine if c.variant_id == vid]
        pre = [
            c.duration_seconds
            for c in mine
            if at - timedelta(days=30) <= c.started_at < at and c.variant_id is None
        ]
        rows.append((sum(post), len(post), sum(pre), len(pre)))
    return [np.array(col, dtype=float) for col in zip(*rows, strict=True)]


def test_a_duration_goal_is_adjusted_by_default_as_numpy_computes_it(agent, operator):
    goal = {"goal_kind": "duration", "goal_direction": "lower"}
    experiment = experiment_start(experiment=make_experiment(agent=agent, **goal), user=operator)
    calls, first = _duration_world(agent, experiment)
    data = results_compute(experiment=experiment).data
    variants = list(experiment.variants.order_by("-is_control", "key"))
    units = [_duration_units(calls, first, agent, v.id) for v in variants]
    _theta, means, removed = _numpy_cuped(units)
    assert data["cuped"]["variance_removed"] == pytest.approx(removed, rel=1e-9)
    assert data["cuped"]["variance_removed"] > 0.1  # a caller's past length says a lot
    assert data["variants"][1]["lift"]["absolute"] == pytest.approx(
        means[1][0] - means[0][0], rel=1e-9
    )


def test_a_duration_goal_with_no_history_gives_the_plain_result(agent, operator):
    goal = {"goal_kind": "duration", "goal_direction": "lower"}
    experiment = experiment_start(experiment=make_experiment(agent=agent, **goal), user=operator)
    calls, rng = Calls(agent), np.random.default_rng(2)
    for i, variant in enumerate(list(experiment.variants.all()) * 120):
        length = float(rng.lognormal(np.log(180), 0.7))
        calls.add(f"d{i}", timezone.now(), None, experiment, variant, duration_seconds=length)
    calls.save()
    data = results_compute(experiment=experiment).data
    assert data["cuped"]["units_with_history"] == 0 and data["cuped"]["variance_removed"] == 0
    lift = data["variants"][1]["lift"]["absolute"]
    assert lift == pytest.approx(data["variants"][1]["mean"] - data["variants"][0]["mean"])
