"""Reads for the results pages: the latest snapshot, its history, and the planner."""

from datetime import timedelta

from django.db.models import Avg, Case, Count, F, FloatField, StdDev, When
from django.utils import timezone

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.selectors import latest_snapshot
from apps.stats import planning

__all__ = ["latest_snapshot", "plan_for_form", "timeline"]
TIMELINE_POINTS = 120
DEFAULT_BASELINES = {"conversion": 0.2, "custom": 0.5}


def timeline(experiment) -> dict:
    """The goal metric and its range per variant over time, from stored snapshots."""
    rows = list(experiment.snapshots.order_by("computed_at").values_list("computed_at", "data"))
    step = max(1, len(rows) // TIMELINE_POINTS)
    rows = rows[::step][-TIMELINE_POINTS:]
    series: dict[str, dict] = {}
    for computed_at, data in rows:
        for v in data.get("variants", []):
            s = series.setdefault(v["key"], {"name": v["name"], "points": []})
            empty = not v.get("units")  # before any call there is no rate, not a rate of 0
            point = {"t": computed_at.isoformat()}
            for name, key in (("mean", "mean"), ("low", "ci_low"), ("high", "ci_high")):
                point[name] = None if empty else v[key]
            s["points"].append(point)
    return {"series": list(series.values())}


def plan_for_form(*, agent_slug: str, goal: str, min_lift_percent: str) -> dict:
    agent = Agent.objects.filter(slug=agent_slug).first()
    try:
        lift = float(min_lift_percent) / 100
    except ValueError:
        lift = 0.0
    if agent is None or lift <= 0 or goal not in ("conversion", "sentiment", "duration", "custom"):
        return {"ok": False}
    since = timezone.now() - timedelta(days=30)
    recent = Call.objects.filter(agent=agent, started_at__gte=since)
    converted = Case(
        When(converted=True, then=1.0), When(converted=False, then=0.0), output_field=FloatField()
    )
    # Values outside what a call can be (stored before ingestion refused them) are left out,
    # as results do (apps/results/aggregation.py): one Infinity would overflow the average.
    sentiment = Case(When(sentiment__gte=-1, sentiment__lte=1, then=F("sentiment")))
    duration = Case(
        When(duration_seconds__gte=0, duration_seconds__lte=86_400, then=F("duration_seconds"))
    )
    stats = recent.aggregate(
        n=Count("id"),
        conv=Avg(converted),
        mean_s=Avg(sentiment),
        sd_s=StdDev(sentiment),
        mean_d=Avg(duration),
        sd_d=StdDev(duration),
    )
    per_variant = _needed(goal, lift, stats)
    per_day = stats["n"] / 30
    return {
        "ok": per_variant is not None,
        "agent": agent,
        "per_variant": per_variant,
        "per_day": per_day,
        "days": planning.days_left(per_day, 0, (per_variant or 0) * 2),
        "lift_percent": lift * 100,
        "baseline_known": stats["n"] >= 30,
    }


def _needed(goal: str, lift: float, stats: dict) -> int | None:
    if goal in ("conversion", "custom"):
        base = stats["conv"] if goal == "conversion" and stats["conv"] else None
        base = base or DEFAULT_BASELINES[goal]
        return planning.calls_per_variant_for_proportion(base, base * lift)
    mean, sd = (
        (stats["mean_s"], stats["sd_s"])
        if goal == "sentiment"
        else (stats["mean_d"], stats["sd_d"])
    )
    if not mean or not sd:
        return None
    return planning.calls_per_variant_for_mean(mean, sd, lift)
