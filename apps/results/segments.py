"""The goal per segment (hour of day, weekday, country, returning callers, who ended the call,
a text custom field): one query for any number of segments, then apps.stats.segments.

A unit's segment value is that of its first call in the experiment (caller mode), or of the
call (call mode): it is known before the variant could change anything later. The units come
from `aggregation.unit_rows` and the goal's per-call SQL from the metric registry, so a unit's
goal value is exactly the one the main results use; each unit is tagged with its segment
values and the tags are summed per (segment, value, variant, phase) with GROUPING SETS: one
scan of the calls whatever the number of segments asked. Many distinct values of a field are
ranked by units in SQL and the smaller ones summed as "Other", so no more than a few rows come
back. Needs PostgreSQL (time zones, regular expressions, jsonb).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from apps import metrics
from apps.results import countries
from apps.results.aggregation import (
    JUDGED,
    NOT_JUDGED,
    VALID_DURATION,
    duration_cap,
    phase_of,
    phase_params,
    unit_rows,
    unit_sums,
)
from apps.stats.types import RatioStats

FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
FIELD_VALUE_CHARS = 80  # longer values are grouped by their start
MAX_VALUES = 10  # distinct values of a field or of countries shown; the rest are "Other"
TITLES = {
    "hour_of_day": "Hour of the day",
    "weekday": "Day of the week",
    "caller_country": "Caller's country",
    "returning_caller": "New or returning caller",
    "ended_by": "Who ended the call",
}


class SegmentError(ValueError):
    """A segment that cannot be computed, in words for the person who asked."""


@dataclass(frozen=True)
class Segment:
    key: str  # "hour_of_day", or "field:<name>"
    kind: str  # a TITLES key, or "field"
    field: str = ""

    @property
    def title(self) -> str:
        return f"Custom field “{self.field}”" if self.kind == "field" else TITLES[self.kind]


def parse(text: str) -> Segment:
    """The segment named by `text`; SegmentError lists the valid ones."""
    if text in TITLES:
        return Segment(text, text)
    if text.startswith("field:"):
        name = text[len("field:") :]
        if FIELD_NAME.fullmatch(name):
            return Segment(text, "field", name)
        raise SegmentError(
            "A custom field's name is 1 to 64 letters, digits or underscores, as in "
            "field:plan_type."
        )
    raise SegmentError(f"Unknown segment. Use one of: {', '.join(valid_names())}.")


def valid_names() -> list[str]:
    return [*TITLES, "field:<name>"]


@dataclass(frozen=True)
class Query:
    sql: str
    params: list


def _dimension_sql(segment: Segment, at: str) -> tuple[str, list]:
    """SQL for one call's segment value ('' = not reported), and its parameters."""
    local = "c.started_at AT TIME ZONE %s"
    if segment.kind == "hour_of_day":
        return f"to_char({local}, 'HH24')", [settings.TIME_ZONE]
    if segment.kind == "weekday":
        return f"to_char({local}, 'ID')", [settings.TIME_ZONE]
    if segment.kind == "caller_country":
        return countries.PREFIX_SQL, []
    if segment.kind == "returning_caller":
        return f"CASE WHEN r.first_ever < {at} THEN 'yes' ELSE 'no' END", []
    if segment.kind == "ended_by":
        return "c.ended_by", []
    text = (
        "CASE WHEN jsonb_typeof(c.fields -> %s) = 'string' "
        f"THEN left(c.fields ->> %s, {FIELD_VALUE_CHARS:d}) END"
    )
    return text, [segment.field, segment.field]


class _Carried:
    """What the per-caller pass must carry besides the goal's columns (see unit_rows)."""

    columns = ("ended_by", "fields")


RETURNING = """LEFT JOIN (
    SELECT caller, MIN(started_at) AS first_ever FROM calls_call WHERE agent_id = %s GROUP BY caller
) r ON r.caller = c.caller"""


def segments_query(experiment, segments: list[Segment], judge=None) -> Query:
    """The query (see the module docstring) and its parameters, in order."""
    goal = metrics.for_agent(experiment.agent_id)[experiment.goal_kind]
    calls, where, unit, at = unit_rows(experiment.unit, (goal, _Carried))
    first = "c.started_at = c.first_at" if experiment.unit == "caller" else "TRUE"
    starts = experiment.phase_starts
    params = [*phase_params(starts)]
    dims = []
    for i, segment in enumerate(segments):
        sql, more = _dimension_sql(segment, at)
        dims.append(f"COALESCE(MIN(CASE WHEN {first} THEN {sql} END), '') AS d{i}")
        params += more
    values, weights = unit_sums(goal)
    goal_sql = f"COALESCE({values}, 0) AS num, {weights} AS den"
    goal_sql = goal_sql.replace("DURATION", _duration(experiment))
    params += [experiment.id] if experiment.unit == "caller" else []
    params += list(judge or ())
    returning = any(s.kind == "returning_caller" for s in segments)
    params += [experiment.agent_id] if returning else []
    params += [experiment.id] if experiment.unit != "caller" else []
    per_unit = f"""
        SELECT c.variant_id, {phase_of(at, len(starts))} AS phase, {unit} AS unit,
               {", ".join(dims)}, COUNT(*) AS calls, {goal_sql}
        FROM {calls} {JUDGED if judge else NOT_JUDGED} {RETURNING if returning else ""}
        WHERE {where}
        GROUP BY 3, 1, 2"""
    caps = [MAX_VALUES if s.kind == "field" else 100_000 for s in segments]
    return Query(_outer(per_unit, len(segments)), [*params, *caps])


def _duration(experiment) -> str:
    cap = duration_cap(experiment.id) if experiment.cap_duration else None
    if cap is None:
        return VALID_DURATION
    return f"CASE WHEN ({VALID_DURATION}) > {cap!r} THEN {cap!r} ELSE {VALID_DURATION} END"


SUMS = (
    "SUM(units), SUM(calls), SUM(n), SUM(num), SUM(num_squares), SUM(den), SUM(den_squares), "
    "SUM(cross_sum)"
)


def _outer(per_unit: str, count: int) -> str:
    """Per unit -> per (segment, value, variant, phase); values beyond a segment's cap in
    units are summed into one row whose value is NULL ("Other")."""
    names = [f"d{i}" for i in range(count)]
    which = " ".join(f"WHEN GROUPING({d}) = 0 THEN {i}" for i, d in enumerate(names))
    sets = ", ".join(f"(variant_id, phase, {d})" for d in names)
    caps = " ".join(f"WHEN {i} THEN %s" for i in range(count))
    return f"""
        WITH per_unit AS ({per_unit}),
        per_value AS (
            SELECT CASE {which} END AS dim, variant_id, phase,
                   COALESCE({", ".join(names)}) AS value, COUNT(*) AS units, SUM(calls) AS calls,
                   SUM(CASE WHEN den > 0 THEN 1 ELSE 0 END) AS n, SUM(num) AS num,
                   SUM(num * num) AS num_squares, SUM(den) AS den,
                   SUM(den * den) AS den_squares, SUM(num * den) AS cross_sum
            FROM per_unit GROUP BY GROUPING SETS ({sets})
        ),
        ranked AS (
            SELECT totals.*, DENSE_RANK() OVER (PARTITION BY dim ORDER BY total DESC, value)
                AS rank
            FROM (SELECT per_value.*, SUM(units) OVER (PARTITION BY dim, value) AS total
                  FROM per_value) totals
        )
        SELECT dim, variant_id, phase, CASE WHEN rank <= CASE dim {caps} END THEN value END,
               {SUMS}
        FROM ranked GROUP BY 1, 2, 3, 4"""


@dataclass
class Cell:
    """One (segment value, variant): units, calls and the goal's statistics per phase."""

    units: int = 0
    calls: int = 0
    phases: dict | None = None

    def add(self, phase: int, units: int, calls: int, stats: RatioStats) -> None:
        self.units += units
        self.calls += calls
        self.phases = self.phases or {}
        self.phases[phase] = _plus(self.phases.get(phase), stats)


def _plus(a: RatioStats | None, b: RatioStats) -> RatioStats:
    if a is None:
        return b
    return RatioStats(*(x + y for x, y in zip(_fields(a), _fields(b), strict=True)))


def _fields(s: RatioStats) -> tuple:
    return (s.n, s.num_sum, s.num_sum_squares, s.den_sum, s.den_sum_squares, s.cross_sum)


def segment_cells(experiment, segments: list[Segment], judge=None) -> list[dict]:
    """Per segment, in order: {value: {variant id: Cell}}; value None is "Other"."""
    if connection.vendor != "postgresql":
        raise SegmentError("Segments need PostgreSQL; this site runs on its embedded database.")
    if metrics.for_agent(experiment.agent_id)[experiment.goal_kind].kind == "quantile":
        # Groups' percentiles cannot be summed from per-unit sums; a mean would be shown
        # under the percentile's name.
        raise SegmentError(
            "Segments are shown for shares and averages; a percentile goal is not split by group."
        )
    query = segments_query(experiment, segments, judge)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        rows = cursor.fetchall()
    out: list[dict] = [{} for _ in segments]
    for dim, variant_id, phase, value, units, calls, *sums in rows:
        if segments[dim].kind == "caller_country" and value is not None:
            value = countries.region_of(value)
        cell = out[dim].setdefault(value, {}).setdefault(variant_id, Cell())
        stats = RatioStats(int(sums[0] or 0), *(float(x or 0) for x in sums[1:]))
        cell.add(int(phase), int(units), int(calls or 0), stats)
    return out


def field_names(experiment, sample: int = 1000) -> list[str]:
    """The custom fields of the experiment's latest calls (a bounded sample, for the picker),
    those whose names a segment accepts, in alphabetical order."""
    sql = """SELECT DISTINCT jsonb_object_keys(fields) FROM (
                 SELECT fields FROM calls_call
                 WHERE experiment_id = %s AND jsonb_typeof(fields) = 'object'
                 ORDER BY started_at DESC, id DESC LIMIT %s) latest"""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, [experiment.id, sample])
        names = [row[0] for row in cursor.fetchall()]
    return sorted(name for name in names if FIELD_NAME.fullmatch(name))
