"""Reads for the results pages: the latest snapshot, its typed result and the planner."""

import math
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from apps import metrics
from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.selectors import latest_snapshot
from apps.results.aggregation import VALID_DURATION, unit_sums
from apps.results.quantiles import agent_quantile
from apps.results.result import Result
from apps.stats import planning
from apps.stats.quantile import fewest_values, quantile_moments
from apps.stats.ratio import ratio_moments
from apps.stats.scales import metric_kind
from apps.stats.types import Moments, RatioStats

__all__ = ["latest_result", "latest_snapshot", "plan_for_form"]
DEFAULT_BASELINES = {"conversion": 0.2, "custom": 0.5}


def latest_result(experiment) -> Result | None:
    """The typed result of the latest snapshot (:func:`latest_snapshot`), None before any."""
    snapshot = latest_snapshot(experiment)
    return snapshot.result if snapshot is not None else None


def plan_for_form(
    *, agent_slug: str, goal: str, min_effect: str, unit: str = "caller", direction: str = ""
) -> dict:
    """How many units (callers when each caller keeps one variant, else calls) the drafted
    experiment needs per variant, and how many days at the agent's volume of the last 30 days.

    ``min_effect`` is a percent (relative lift) for most metrics, and points on the -1..1
    scale for a score (sentiment). The plan is apps.stats.planning.units_per_variant_for_goal,
    the same the results page and the API show, on the same per-unit variance (a caller's
    ratio, apps.stats.ratio, in caller mode), for any metric of the agent (apps.metrics).
    A quantile goal (the 95th percentile of response times) is planned on what the results
    would hold for a control arm that got the agent's recent calls (:func:`_baseline`).
    No baseline measured and no typical one to assume (too few calls; for a quantile, fewer
    than `fewest` values or a single caller): no number, and `too_few` says so.
    """
    agent = Agent.objects.filter(slug=agent_slug).first()
    metric = metrics.for_agent(agent.pk).get(goal) if agent else None
    try:
        effect = float(min_effect)
    except ValueError:
        effect = 0.0
    if metric is None or not math.isfinite(effect) or not effect > 0:
        return {"ok": False}
    effect = effect if metric_kind(goal) == "score" else effect / 100
    since = timezone.now() - timedelta(days=30)
    by_caller = unit != "call"
    moments = _baseline(agent.pk, since, metric, by_caller)
    known = moments.n >= 30 and moments.variance > 0
    typical = not known and goal in DEFAULT_BASELINES
    if typical:
        base = DEFAULT_BASELINES[goal]
        moments = Moments(moments.n, base, base * (1 - base))
    per_variant = planning.units_per_variant_for_goal(
        goal,
        moments.mean,
        moments.variance if moments.n >= 2 else None,
        effect,
        direction=direction or metric.direction,
    )
    recent = Call.objects.filter(agent=agent, started_at__gte=since)
    units = recent.values("caller").distinct().count() if by_caller else recent.count()
    per_day = units / 30
    return {
        "ok": per_variant is not None,
        "agent": agent,
        "per_variant": per_variant,
        "per_day": per_day,
        "days": planning.days_left(per_day, 0, (per_variant or 0) * 2),
        "goal": goal,
        "metric": metric,
        "effect": effect,
        "lift_percent": effect * 100,
        "by_caller": by_caller,
        "baseline": moments,
        "baseline_known": known,
        "typical_baseline": typical,
        "too_few": per_variant is None and not known and not typical,
        "fewest": fewest_values(metric.quantile) if metric.quantile else None,
    }


def _baseline(agent_id: int, since, metric, by_caller: bool) -> Moments:
    """The goal's mean and per-unit variance over recent calls, as the analysis computes them
    (the registry's SQL for one call's value, apps.results.aggregation.unit_sums): per caller
    a ratio (sum / weight of their calls' values), per call a plain mean. A quantile: the
    results' own statistics over these calls (apps.results.quantiles.agent_quantile, with
    the caller-clustered variance in caller mode) as Moments (n = units, mean = the sample
    quantile, variance = Var(q) * units; 0 when it cannot be estimated). Values outside what
    a call can be are left out, as results do."""
    if metric.quantile:
        unit = "caller" if by_caller else "call"
        return quantile_moments(agent_quantile(agent_id, since=since, unit=unit, metric=metric))
    if metric.key == "custom":  # judged only inside experiments: no baseline outside one
        return Moments(0, 0.0, 0.0)
    values, weights = unit_sums(metric)
    group = "c.caller" if by_caller else "c.id"
    sql = f"""
        SELECT COUNT(*), SUM(num), SUM(num * num), SUM(den), SUM(den * den), SUM(num * den)
        FROM (
            SELECT {values} AS num, {weights} AS den FROM calls_call c
            WHERE c.agent_id = %s AND c.started_at >= %s GROUP BY {group}
        ) units WHERE den > 0
    """.replace("DURATION", VALID_DURATION)
    with connection.cursor() as cursor:  # sums over units, in the database (one row back)
        cursor.execute(sql, [agent_id, since])
        n, *sums = cursor.fetchone()
    if not n:
        return Moments(0, 0.0, 0.0)
    return ratio_moments(RatioStats(n, *(float(x or 0) for x in sums)))
