"""Reads for the results pages: the latest snapshot and the planner."""

from datetime import timedelta

from django.db import connection
from django.db.models import Case, Count, F, FloatField, Sum, When
from django.utils import timezone

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.selectors import latest_snapshot
from apps.stats import planning
from apps.stats.ratio import ratio_moments
from apps.stats.types import Moments, RatioStats

__all__ = ["latest_snapshot", "plan_for_form"]
DEFAULT_BASELINES = {"conversion": 0.2, "custom": 0.5}


def plan_for_form(
    *, agent_slug: str, goal: str, min_effect: str, unit: str = "caller", direction: str = ""
) -> dict:
    """How many units (callers when each caller keeps one variant, else calls) the drafted
    experiment needs per variant, and how many days at the agent's volume of the last 30 days.

    ``min_effect`` is a percent (relative lift) for rates and duration, and points on the
    -1..1 scale for sentiment. The plan is apps.stats.planning.units_per_variant_for_goal,
    the same the results page and the API show, on the same per-unit variance (a caller's
    ratio, apps.stats.ratio, in caller mode).
    """
    agent = Agent.objects.filter(slug=agent_slug).first()
    try:
        effect = float(min_effect)
    except ValueError:
        effect = 0.0
    if agent is None or not effect > 0 or goal not in PLANNED_METRICS:
        return {"ok": False}
    effect = effect if goal == "sentiment" else effect / 100
    recent = Call.objects.filter(agent=agent, started_at__gte=timezone.now() - timedelta(days=30))
    by_caller = unit != "call"
    moments = _baseline(recent, goal, by_caller)
    known = moments.n >= 30 and moments.variance > 0
    if not known and goal in DEFAULT_BASELINES:
        base = DEFAULT_BASELINES[goal]
        moments = Moments(moments.n, base, base * (1 - base))
    per_variant = planning.units_per_variant_for_goal(
        goal,
        moments.mean,
        moments.variance if moments.n >= 2 else None,
        effect,
        direction=direction or "higher",
    )
    units = recent.values("caller").distinct().count() if by_caller else recent.count()
    per_day = units / 30
    return {
        "ok": per_variant is not None,
        "agent": agent,
        "per_variant": per_variant,
        "per_day": per_day,
        "days": planning.days_left(per_day, 0, (per_variant or 0) * 2),
        "goal": goal,
        "effect": effect,
        "lift_percent": effect * 100,
        "by_caller": by_caller,
        "baseline_known": known,
    }


PLANNED_METRICS = {"conversion", "sentiment", "duration", "custom"}


def _baseline(recent, goal: str, by_caller: bool) -> Moments:
    """The goal's mean and per-unit variance over recent calls, as the analysis computes them:
    per caller a ratio (sum / count of their calls' values), per call a plain mean."""
    if goal == "custom":  # judged only inside experiments: no baseline outside one
        return Moments(0, 0.0, 0.0)
    value = {
        "conversion": Case(
            When(converted=True, then=1.0),
            When(converted=False, then=0.0),
            output_field=FloatField(),
        ),
        # Values outside what a call can be are left out, as results do (aggregation.py).
        "sentiment": Case(When(sentiment__gte=-1, sentiment__lte=1, then=F("sentiment"))),
        "duration": Case(
            When(duration_seconds__gte=0, duration_seconds__lte=86_400, then=F("duration_seconds"))
        ),
    }[goal]
    group = "caller" if by_caller else "id"
    units = recent.values(group).annotate(num=Sum(value), den=Count(value)).filter(den__gt=0)
    inner, params = units.values("num", "den").query.sql_with_params()
    with connection.cursor() as cursor:  # sums over units, in the database (one row back)
        cursor.execute(
            "SELECT COUNT(*), SUM(num), SUM(num * num), SUM(den), SUM(den * den), "
            f"SUM(num * den) FROM ({inner}) AS units",
            params,
        )
        n, *sums = cursor.fetchone()
    if not n:
        return Moments(0, 0.0, 0.0)
    stats = RatioStats(n, *(float(x) for x in sums))
    return ratio_moments(stats)
