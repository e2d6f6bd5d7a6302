from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.agents.models import Agent
from apps.calls.models import Call


class DayCount(NamedTuple):
    day: date
    calls: int


def calls_per_day(agent: Agent, days: int = 30) -> list[DayCount]:
    """Calls the agent took on each of the last `days` days (today included), oldest first.

    Days run midnight to midnight in the site's time zone (settings.TIME_ZONE), the one pages
    show dates in. One GROUP BY in the database; days without calls are filled with 0 here.
    """
    tz = timezone.get_current_timezone()
    first = timezone.localdate() - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(first + timedelta(days=days), time.min, tzinfo=tz)
    counts = dict(
        Call.objects.filter(agent=agent, started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=tz))
        .order_by()
        .values("day")
        .annotate(calls=Count("id"))
        .values_list("day", "calls")
    )
    return [DayCount(d, counts.get(d, 0)) for d in (first + timedelta(i) for i in range(days))]


@dataclass(frozen=True)
class CallVolume:
    """What the chart says about a run of days: total, average, busiest day, bar heights."""

    days: list[DayCount]

    @property
    def total(self) -> int:
        return sum(d.calls for d in self.days)

    @property
    def average(self) -> float:
        return self.total / len(self.days) if self.days else 0.0

    @property
    def peak(self) -> DayCount | None:
        return max(self.days, key=lambda d: d.calls, default=None)

    @property
    def bars(self) -> list[tuple[DayCount, int]]:
        """(day, height in percent of the busiest day); a day with any call shows at least 1%."""
        top = self.peak.calls if self.peak else 0
        return [(d, max(1, round(100 * d.calls / top)) if d.calls else 0) for d in self.days]


def call_volume(agent: Agent, days: int = 30) -> CallVolume:
    return CallVolume(calls_per_day(agent, days))
