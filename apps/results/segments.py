"""The goal per segment (hour of day, weekday, country, returning callers, who ended the call,
a text custom field), computed in the results' own scan of the calls, then apps.stats.segments.

A unit's segment value is that of its first call in the experiment (caller mode), or of the
call (call mode): it is known before the variant could change anything later. Each segment
becomes an `aggregation.Dimension`; the one aggregate query tags each unit with its values and
sums the units per (segment, value, variant, phase) with GROUPING SETS, so a unit's goal value
is exactly the one the main results use, and the calls are read once whatever the number of
segments. An experiment's kept segments (`Experiment.segments`) come with every results
computation; another one asked for on the page costs one scan of its own. Many distinct values
of a field are ranked by units in SQL and the smaller ones summed as "Other", so no more than a
few rows come back. Needs PostgreSQL (time zones, regular expressions, jsonb, GROUPING SETS).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from apps import metrics
from apps.metrics.segments import FIELD_NAME, TITLES, Segment, SegmentError, parse, valid_names
from apps.results import countries
from apps.results.aggregation import Dimension, aggregate
from apps.stats.ratio import ratio_moments
from apps.stats.types import Moments, RatioStats

__all__ = ["FIELD_NAME", "TITLES", "Segment", "SegmentError", "parse", "valid_names"]
FIELD_VALUE_CHARS = 80  # longer values are grouped by their start
MAX_VALUES = 10  # distinct values of a field or of countries shown; the rest are "Other"
RETURNING = """LEFT JOIN (
    SELECT caller, MIN(started_at) AS first_ever FROM calls_call WHERE agent_id = %s GROUP BY caller
) r ON r.caller = c.caller"""


def dimension(experiment, segment: Segment) -> Dimension:
    """How the aggregate query reads a unit's value of `segment` ('' = not reported). What
    depends only on the caller and the start of the unit's first call is computed once per
    unit (`per_unit`); who ended the call and a field come from the first call itself."""
    local = "{at} AT TIME ZONE %s"
    if segment.kind == "hour_of_day":
        return Dimension(f"to_char({local}, 'HH24')", (settings.TIME_ZONE,), per_unit=True)
    if segment.kind == "weekday":
        return Dimension(f"to_char({local}, 'ID')", (settings.TIME_ZONE,), per_unit=True)
    if segment.kind == "caller_country":
        return Dimension(countries.PREFIX_SQL, per_unit=True)
    if segment.kind == "returning_caller":
        return Dimension(
            "CASE WHEN {first_ever} < {at} THEN 'yes' ELSE 'no' END",
            join=RETURNING,
            join_params=(experiment.agent_id,),
            per_unit=True,
        )
    if segment.kind == "ended_by":
        return Dimension("c.ended_by", columns=("ended_by",))
    text = (
        "CASE WHEN jsonb_typeof(c.fields -> %s) = 'string' "
        f"THEN left(c.fields ->> %s, {FIELD_VALUE_CHARS:d}) END"
    )
    return Dimension(text, (segment.field, segment.field), ("fields",), cap=MAX_VALUES)


def refusal(experiment) -> str:
    """Why this experiment's results cannot be split by segment, or '' when they can."""
    if connection.vendor != "postgresql":
        return "Segments need PostgreSQL; this site runs on its embedded database."
    if experiment.goal_kind not in metrics.for_agent(experiment.agent_id):
        # a custom metric may go once no draft or running experiment uses it
        return (
            f"The goal metric “{experiment.goal_kind}” was deleted, so the calls cannot be "
            "split again; the segments kept with the frozen results are still shown."
        )
    return ""


def percentile_goal(experiment) -> bool:
    """A percentile goal's groups each need a scan of their own
    (apps.results.quantile_segments): shown on request, never kept with the results."""
    goal = metrics.for_agent(experiment.agent_id).get(experiment.goal_kind)
    return goal is not None and goal.kind == "quantile"


def kept(experiment) -> list[Segment]:
    """The segments computed with every result of this experiment (none where they cannot
    be; a stored name that no longer parses is skipped)."""
    if refusal(experiment) or percentile_goal(experiment):
        return []
    out = []
    for text in experiment.segments or ():
        try:
            out.append(parse(text))
        except SegmentError:
            continue
    return out


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

    def moments(self) -> dict[int, Moments]:
        """The goal per phase, as the comparison takes it."""
        return {k: ratio_moments(stats) for k, stats in (self.phases or {}).items()}

    def shown(self) -> float | None:
        """The goal over all phases: the units' pooled value."""
        parts = [m for m in self.moments().values() if m.n]
        n = sum(m.n for m in parts)
        return sum(m.n * m.mean for m in parts) / n if n else None


def _plus(a: RatioStats | None, b: RatioStats) -> RatioStats:
    if a is None:
        return b
    return RatioStats(*(x + y for x, y in zip(_fields(a), _fields(b), strict=True)))


def _fields(s: RatioStats) -> tuple:
    return (s.n, s.num_sum, s.num_sum_squares, s.den_sum, s.den_sum_squares, s.cross_sum)


def cells(arms, goal: str, segments: list[Segment]) -> list[dict]:
    """Per segment, in order, from the aggregated arms: {value: {variant id: Cell}} of the
    goal; value None is "Other", a country is its region."""
    out: list[dict] = [{} for _ in segments]
    for variant_id, arm in arms.items():
        for i, parts in enumerate(arm.segments):
            for part in parts:
                value = part.value
                if segments[i].kind == "caller_country" and value is not None:
                    value = countries.region_of(value)
                cell = out[i].setdefault(value, {}).setdefault(variant_id, Cell())
                cell.add(part.phase, part.units, part.calls, part.metrics[goal])
    return out


def segment_cells(experiment, segments: list[Segment], judge=None) -> list[dict]:
    """Per segment, in order: {value: {variant id: Cell}}, from one scan of the calls that
    aggregates the goal alone (for a segment the experiment does not keep). PostgreSQL only:
    callers check `refusal` first (segment_table.segment_tables)."""
    goal = metrics.for_agent(experiment.agent_id)[experiment.goal_kind]
    arms = aggregate(
        experiment.id,
        unit=experiment.unit,
        cap=experiment.cap_duration,
        judge=judge,
        phase_starts=experiment.phase_starts,
        metrics=(goal,),
        dimensions=[dimension(experiment, s) for s in segments],
    )
    return cells(arms, goal.key, segments)


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
