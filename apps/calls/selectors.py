import json
import math
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.models import Experiment, Variant
from config.inputs import whole_number


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


# The calls lists -------------------------------------------------------------------------
#
# A list is one scope (an experiment's calls, or all of an agent's), some filters, one sort
# and a keyset ("seek") page: "the 50 calls after this one". No OFFSET, which reads and
# throws away every earlier row, and no COUNT(*), which reads every matching row: each page
# costs about the same at a hundred calls or ten million, given the indexes on Call.

PAGE_SIZE = 50


@dataclass(frozen=True)
class CallScope:
    """Whose calls a list shows: one experiment's, or every call of one agent."""

    agent: Agent
    experiment: Experiment | None = None

    def calls(self) -> QuerySet[Call]:
        if self.experiment is not None:
            return Call.objects.filter(experiment=self.experiment)
        return Call.objects.filter(agent=self.agent)

    def variants(self) -> list[Variant]:
        if self.experiment is not None:
            return list(self.experiment.variants.all())
        return list(
            Variant.objects.filter(experiment__agent=self.agent)
            .select_related("experiment")
            .order_by("-experiment__created_at", "-is_control", "key")
        )

    @property
    def list_url(self) -> str:
        if self.experiment is not None:
            return reverse("calls:experiment", args=[self.experiment.pk])
        return reverse("calls:agent", args=[self.agent.slug])

    @property
    def csv_url(self) -> str:
        if self.experiment is not None:
            return reverse("calls:experiment-csv", args=[self.experiment.pk])
        return reverse("calls:agent-csv", args=[self.agent.slug])

    @property
    def file_stem(self) -> str:
        """front-desk, or front-desk-warmer-greeting: the start of an export's file name."""
        if self.experiment is None:
            return self.agent.slug
        return f"{self.agent.slug}-{slugify(self.experiment.name) or self.experiment.pk}"


@dataclass(frozen=True)
class CallFilters:
    """What a person narrowed a list to. None means any; ranges include both ends; days run
    midnight to midnight in the site's time zone, like the rest of the pages."""

    variant: int | None = None
    converted: bool | None = None
    transferred: bool | None = None
    sentiment_min: float | None = None
    sentiment_max: float | None = None
    duration_min: float | None = None
    duration_max: float | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return any(value is not None for value in astuple(self))

    def apply(self, calls: QuerySet[Call]) -> QuerySet[Call]:
        conditions = {
            "variant_id": self.variant,
            "converted": self.converted,
            "transferred": self.transferred,
            "sentiment__gte": self.sentiment_min,
            "sentiment__lte": self.sentiment_max,
            "duration_seconds__gte": self.duration_min,
            "duration_seconds__lte": self.duration_max,
            "started_at__gte": _midnight(self.date_from),
            "started_at__lt": _midnight(self.date_to and self.date_to + timedelta(days=1)),
        }
        return calls.filter(**{k: v for k, v in conditions.items() if v is not None})


def _midnight(day: date | None) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


@dataclass(frozen=True)
class Sort:
    """One order of a list, with the words the page uses for it and for its two directions."""

    column: str
    descending: bool
    words: str
    previous: str
    next: str

    @property
    def nullable(self) -> bool:
        return self.column != "started_at"

    @property
    def order_by(self) -> tuple:
        """For a whole list at once (the export): calls without a value last, as on pages.
        (Said only where a column can be empty: PostgreSQL then reads started_at from its
        index rather than sorting every call.)"""
        column = F(self.column).desc if self.descending else F(self.column).asc
        last = {"nulls_last": True} if self.nullable else {}
        return (column(**last), "-id" if self.descending else "id")


SORTS = {
    "-started_at": Sort("started_at", True, "newest first", "Newer", "Older"),
    "started_at": Sort("started_at", False, "oldest first", "Older", "Newer"),
    "-duration": Sort("duration_seconds", True, "longest first", "Longer", "Shorter"),
    "duration": Sort("duration_seconds", False, "shortest first", "Shorter", "Longer"),
    "-sentiment": Sort("sentiment", True, "most positive first", "More positive", "More negative"),
    "sentiment": Sort("sentiment", False, "most negative first", "More negative", "More positive"),
}
DEFAULT_SORT = "-started_at"

# What a row of the list needs; never the transcript, which can be megabytes.
LIST_COLUMNS = (
    *("id", "started_at", "caller", "duration_seconds", "sentiment", "after_stop"),
    *("converted", "transferred", "completed"),
    *("variant__name", "variant__key", "experiment__name"),
)


def calls_for_list(scope: CallScope, filters: CallFilters) -> QuerySet[Call]:
    calls = filters.apply(scope.calls())
    return calls.select_related("variant", "experiment").only(*LIST_COLUMNS)


@dataclass(frozen=True)
class CallPage:
    """Up to PAGE_SIZE calls, and the cursors that lead to the pages on either side."""

    calls: list[Call]
    first: bool
    previous: str | None = None
    next: str | None = None


def calls_page(
    calls: QuerySet[Call], *, sort: Sort, after: str = "", before: str = "", size=PAGE_SIZE
) -> CallPage:
    """The page after the call named by `after`, before the one named by `before`, or the
    first page. Calls without a value in the sort column (no duration, no sentiment) come
    last in either direction. A cursor that does not parse is ignored: the first page."""
    back = _parse_cursor(before, sort)
    if back is not None:
        rows = _seek(calls, sort, back, forward=False, limit=size + 1)
        if len(rows) > size:
            rows = rows[:size][::-1]
            return CallPage(rows, False, _cursor(rows[0], sort), _cursor(rows[-1], sort))
        # Back at the start: show the first page whole rather than its tail.
    ahead = _parse_cursor(after, sort) if back is None else None
    rows = _seek(calls, sort, ahead, forward=True, limit=size + 1)
    page = rows[:size]
    return CallPage(
        page,
        first=ahead is None,
        previous=_cursor(page[0], sort) if ahead is not None and page else None,
        next=_cursor(page[-1], sort) if len(rows) > size else None,
    )


def _seek(calls, sort: Sort, key, *, forward: bool, limit: int) -> list[Call]:
    """Up to `limit` calls beyond `key` (None: from the very start), in the list's order
    when going forward, in reverse when going back.

    A nullable column is two runs, the calls with a value and then those without, each read
    in index order; a page that straddles the two runs takes one query of each."""
    descending = sort.descending if forward else not sort.descending
    runs = ["values", "nulls"] if sort.nullable else ["values"]
    if not forward:
        runs.reverse()
    if key is not None:
        runs = runs[runs.index("nulls" if key[0] is None else "values") :]
    rows: list[Call] = []
    for index, run in enumerate(runs):
        bound = key if index == 0 else None
        rows += _run(calls, sort.column, run, bound, descending)[: limit - len(rows)]
        if len(rows) >= limit:
            break
    return rows


def _run(calls, column: str, run: str, bound, descending: bool) -> QuerySet[Call]:
    beyond = "lt" if descending else "gt"
    sign = "-" if descending else ""
    if run == "nulls":
        calls = calls.filter(**{f"{column}__isnull": True})
        if bound is not None:
            calls = calls.filter(**{f"id__{beyond}": bound[1]})
        return calls.order_by(f"{sign}id")
    if column != "started_at":
        calls = calls.filter(**{f"{column}__isnull": False})
    if bound is not None:
        value, pk = bound
        # (column, id) beyond (value, pk): past the value, or on it with a later id. The
        # plain range on the column comes first so that PostgreSQL starts the index scan at
        # the cursor instead of the top of the list; only calls tied at `value` are reread.
        calls = calls.filter(
            Q(**{f"{column}__{beyond}e": value}),
            Q(**{f"{column}__{beyond}": value}) | Q(**{f"id__{beyond}": pk}),
        )
    return calls.order_by(f"{sign}{column}", f"{sign}id")


def _cursor(call: Call, sort: Sort) -> str:
    """A call's place in a sort, for a link: "2026-11-22T10:00:00+00:00~123", "95.5~123",
    or "~123" for a call without a value. Floats are written exactly (repr round-trips)."""
    value = getattr(call, sort.column)
    if value is None:
        text = ""
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = repr(float(value))
    return f"{text}~{call.pk}"


def _instant(text: str) -> datetime:
    """A cursor's time as its UTC instant: PostgreSQL holds offsets only up to ±15:59."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor's time has a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 ahead of UTC: before the first representable instant
        raise ValueError("out of range") from None


def _parse_cursor(raw: str, sort: Sort) -> tuple[datetime | float | None, int] | None:
    text, tilde, pk = (raw or "").rpartition("~")
    if not tilde or whole_number(pk) is None:
        return None
    if text == "":
        return (None, int(pk)) if sort.nullable else None
    try:
        value = _instant(text) if sort.column == "started_at" else float(text)
    except ValueError:
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value, int(pk)


# The call page -----------------------------------------------------------------------

FIRST_TURNS = 200  # more than this and the page offers "Show all N turns"
LONG_TURN = 1500  # characters; a longer turn shows its start and folds the rest


def calls_for_page() -> QuerySet[Call]:
    return Call.objects.select_related("agent", "experiment", "variant__prompt_version")


@dataclass(frozen=True)
class TurnView:
    speaker: str  # "agent" or "caller"
    text: str
    at: str  # "0:42" from the start of the call
    latency: str = ""  # agent turns: "1.2 s to answer"

    @property
    def long(self) -> bool:
        return len(self.text) > LONG_TURN

    @property
    def preview(self) -> str:
        return self.text[: LONG_TURN // 3]


@dataclass(frozen=True)
class TranscriptView:
    turns: list[TurnView]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.turns)

    @property
    def cut(self) -> bool:
        return self.hidden > 0


def transcript_for_page(call: Call, *, everything: bool = False) -> TranscriptView:
    """The conversation as the page shows it: the first FIRST_TURNS turns unless asked for
    everything, so that a 5,000-turn transcript does not freeze the reader's browser."""
    turns = call.transcript if isinstance(call.transcript, list) else []
    shown = turns if everything else turns[:FIRST_TURNS]
    return TranscriptView([_turn(t) for t in shown if isinstance(t, dict)], total=len(turns))


def _turn(turn: dict) -> TurnView:
    speaker = "agent" if turn.get("speaker") == "agent" else "caller"
    text, at = str(turn.get("text", "")), clock(turn.get("start_seconds"))
    return TurnView(speaker, text, at, milliseconds(turn.get("latency_ms")))


def milliseconds(value) -> str:
    """A response time as a person reads it: 850 -> "0.85 s", 1234 -> "1.2 s"; "" if unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    if value < 0:
        return ""
    seconds = value / 1000
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:,.1f} s"


def ending(call: Call) -> str:
    """Who ended the call and when, in words: "The caller hung up at 3:12 (voicemail)."."""
    who = {
        "caller": "The caller hung up",
        "agent": "The agent ended the call",
        "transfer": "The call was transferred to a person",
        "error": "An error ended the call",
    }.get(call.ended_by, "")
    if not who:
        return f"The call ended: {call.end_reason}." if call.end_reason else ""
    when = clock(call.duration_seconds) if call.duration_seconds is not None else ""
    text = f"{who} at {when}" if when else who
    return f"{text} ({call.end_reason})." if call.end_reason else f"{text}."


def clock(seconds) -> str:
    """Seconds from the start of a call as a person reads them: 0:42, 12:05, 1:02:03."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def custom_fields(call: Call) -> list[tuple[str, str]]:
    """The call's extra fields as (key, value) text, keys in alphabetical order; values that
    are not text (numbers, lists, objects) are shown as JSON."""
    if not isinstance(call.fields, dict):
        return []
    return [
        (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in sorted(call.fields.items())
    ]
