"""Reads for the metrics page: the agent's metrics and the fields its calls report."""

import math
from collections import Counter
from dataclasses import dataclass

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.metrics import METRICS
from apps.metrics.fields import FIELD
from apps.metrics.models import CustomMetric

RECENT_CALLS = 1_000
MAX_SUGGESTIONS = 50


@dataclass(frozen=True)
class FieldSeen:
    field: str
    type: str  # "boolean" or "number"
    calls: int  # of the recent calls, how many reported it with this type
    metrics: tuple[str, ...]  # keys of the agent's metrics that already read it


def builtin_metrics() -> list:
    return list(METRICS.values())


def custom_metrics_for_page(agent: Agent):
    return CustomMetric.objects.filter(agent=agent).select_related("created_by").order_by("key")


def _type_of(value) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    # The bound first: a JSON integer of 400 digits is a Python int math.isfinite cannot
    # convert (OverflowError); compared, it is simply too large, as results count it.
    if isinstance(value, int | float) and abs(value) <= 1e12 and math.isfinite(value):
        return "number"
    return None


def fields_seen(agent: Agent, recent: int = RECENT_CALLS) -> list[FieldSeen]:
    """The yes/no and number fields in the agent's last `recent` calls, most reported first.
    Only names a metric can read (letters, digits, underscores); strings are not numbers."""
    counts: Counter = Counter()
    rows = Call.objects.filter(agent=agent).order_by("-started_at", "-id")
    for fields in rows.values_list("fields", flat=True)[:recent]:
        if not isinstance(fields, dict):
            continue
        for name, value in fields.items():
            kind = _type_of(value)
            if kind and FIELD.fullmatch(name):
                counts[(name, kind)] += 1
    used: dict[str, list[str]] = {}
    for key, field in CustomMetric.objects.filter(agent=agent).values_list("key", "field"):
        used.setdefault(field, []).append(key)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_SUGGESTIONS]
    return [FieldSeen(n, k, c, tuple(used.get(n, ()))) for (n, k), c in ranked]
