"""From calls to sufficient statistics: one GROUP BY per experiment, in the database.

Every metric is analysed per assignment unit. When each caller keeps one variant, a caller
who calls three times is one unit whose value is (sum over their calls) / (their calls):
a ratio metric, so repeat callers do not inflate significance. In per-call experiments each
call is its own unit (the ratio's denominator is then always 1, i.e. a plain mean).

Units are counted per phase of the split (`Experiment.phases`), so that the analysis can
compare the arms within each phase (apps.stats.strata) and the split check can count units
against the split they were assigned under. A call's phase is the one running when it
started. A caller belongs to the variant and the phase of their first call in the
experiment; if a later split change moved their bucket, their calls with the other variant
are left out (they are neither a new caller of it nor the first variant's treatment), so a
split change cannot add returning callers to the variants that gained share.

The inner query groups by (variant, phase, unit) and yields, for each metric, the unit's
sum and count of non-empty values; the outer query sums those per (variant, phase) into n,
sums, sums of squares and cross products. Works on PostgreSQL and on SQLite (the embedded
default). With segments (`Dimension`s, PostgreSQL only), each unit also carries its value of
each, and the same query gives every segment's groups beside the whole (`_split`): the calls
are read once whatever the number of segments.

Values outside what a call can be are ignored, as if the call had not reported them: rows
stored before ingestion refused them may hold a duration of Infinity or 1e308, whose sums
overflow PostgreSQL's float (an error, and no results for the whole experiment). Ignored
rather than clamped: Infinity is not a long call, and counting it as a day-long one would
move the mean by a call that never happened. The call still counts for its other metrics.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.db import connection

from apps.metrics import MAX_DURATION_SECONDS, METRICS, Metric
from apps.stats.quantile import QuantileStats
from apps.stats.types import RatioStats

SPLIT_CHECK_MARGIN = timedelta(seconds=60)  # see _checked

# One call's duration, NULL when outside what a call can be (NaN included: PostgreSQL orders
# NaN above every number, so it fails the upper bound).
VALID_DURATION = (
    f"CASE WHEN c.duration_seconds >= 0 AND c.duration_seconds <= {MAX_DURATION_SECONDS} "
    "THEN c.duration_seconds END"
)


def _call_columns(metrics: Sequence[Metric], carried: Sequence[str] = ()) -> str:
    """What the per-caller pass carries of each call: what the metrics, the judge and the
    segments (`carried`) read."""
    metric_columns = (column for m in metrics for column in m.columns)
    names = dict.fromkeys(["id", "variant_id", "caller", "started_at", *metric_columns, *carried])
    return ", ".join(f"c.{name}" for name in names)


JUDGED = """LEFT JOIN (
    SELECT call_id, CASE verdict WHEN 'pass' THEN 1.0 WHEN 'fail' THEN 0.0 END AS value
    FROM judging_judgement WHERE criterion_id = %s AND model = %s AND prompt_version = %s
) j ON j.call_id = c.id"""
NOT_JUDGED = (
    "LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS call_id, CAST(NULL AS REAL) AS value) j ON 1 = 0"
)


@dataclass(frozen=True)
class SegmentPart:
    """The units of one variant in one phase whose segment value is `value` (None: the values
    beyond the dimension's cap, together)."""

    value: str | None
    phase: int
    units: int
    calls: int
    metrics: dict[str, RatioStats]


@dataclass(frozen=True)
class Dimension:
    """A way to split units (apps.results.segments builds them): `sql` is one call's value as
    text ('' when not reported), read from the unit's first call (or, `per_unit`, from the
    unit itself); `columns` the call columns it reads; `join` a LEFT JOIN it needs (with
    `join_params`); `cap` how many values are kept, by units, the others summed as one row
    whose value is None."""

    sql: str
    params: tuple = ()
    columns: tuple[str, ...] = ()
    join: str = ""
    join_params: tuple = ()
    cap: int | None = None
    # True: `sql` reads only the unit's caller (c.caller), `{at}` (the start of the unit's
    # first call) and `{first_ever}` (r.first_ever of a join), the same for all the unit's
    # calls, and is computed once per unit.
    per_unit: bool = False


@dataclass(frozen=True)
class ArmData:
    """One variant's sufficient statistics: over all its units (`metrics`) and per phase of
    the split (`phases`: phase index -> metric -> stats, and `units_by_phase`)."""

    variant_id: int
    calls: int
    units: int
    metrics: dict[str, RatioStats]
    phases: dict[int, dict[str, RatioStats]] = field(default_factory=dict)
    # Units per phase for the split check: those whose first call was not within a minute
    # of a split change (see `_checked`).
    units_by_phase: dict[int, int] = field(default_factory=dict)
    # Quantile metrics, which cannot be summed per unit (apps.results.quantiles): phase
    # (or quantiles.ALL, over all phases) -> metric -> QuantileStats.
    quantiles: dict[int, dict[str, QuantileStats]] = field(default_factory=dict)
    # Per `Dimension` asked for, in order: its rows, each a SegmentPart.
    segments: tuple[tuple[SegmentPart, ...], ...] = ()


def unit_sums(metric) -> tuple[str, str]:
    """SQL summing one metric over a unit's calls: (its values, their weights), a weight
    being 1 per call that reported a value, or a ratio metric's own denominator."""
    if metric.weight is None:
        return f"SUM({metric.value})", f"COUNT({metric.value})"
    weight = f"SUM(CASE WHEN ({metric.value}) IS NULL THEN NULL ELSE {metric.weight} END)"
    return f"SUM({metric.value})", weight


def _summed(metrics: Sequence[Metric]) -> tuple[Metric, ...]:
    """The metrics summed per unit here: all but quantiles (apps.results.quantiles)."""
    return tuple(m for m in metrics if m.kind != "quantile")


def _inner_columns(metrics: Sequence[Metric]) -> str:
    """Per unit and metric: the sum of its calls' values and of their weights."""
    columns = []
    for m in metrics:
        values, weights = unit_sums(m)
        columns.append(f"{values} AS {m.key}_num, {weights} AS {m.key}_den")
    return ",\n".join(columns)


def _outer_sums(metrics: Sequence[Metric]) -> list[str]:
    """Per metric, six sums over units: n (units with a value), the values, their squares,
    the weights, theirs, and values times weights."""
    parts = []
    for m in (metric.key for metric in metrics):
        num, den = f"COALESCE({m}_num, 0)", f"{m}_den"
        parts += [
            f"SUM(CASE WHEN {den} > 0 THEN 1 ELSE 0 END)",
            f"SUM({num})",
            f"SUM({num} * {num})",
            f"SUM({den})",
            f"SUM({den} * {den})",
            f"SUM({num} * {den})",
        ]
    return parts


def _outer_columns(metrics: Sequence[Metric]) -> str:
    return ", ".join(_outer_sums(metrics))


def phase_of(column: str, boundaries: int) -> str:
    """SQL for the index of the phase running at `column` (a start time): phase i from the
    i-th start on; earlier times belong to the first phase. Its parameters: `phase_params`.
    PostgreSQL finds it by binary search (width_bucket over the starts), so optimize mode's
    hundreds of hourly phases cost a few comparisons a call; SQLite (the embedded default)
    walks a CASE, latest start first."""
    if boundaries < 2:
        return "0"
    if connection.vendor == "postgresql":
        return f"width_bucket({column}, %s::timestamptz[])"
    whens = " ".join(f"WHEN {column} >= %s THEN {i}" for i in range(boundaries - 1, 0, -1))
    return f"CASE {whens} ELSE 0 END"


def phase_params(starts: Sequence[datetime], shift: timedelta = timedelta(0)) -> list:
    """The parameters of one `phase_of` over phases starting at `starts` (oldest first),
    each start moved by `shift`."""
    later = [at + shift for at in starts[1:]]
    if len(starts) < 2:
        return []
    if connection.vendor == "postgresql":
        return [later]
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(at) for at in reversed(later)]


def _checked(column: str, boundaries: int) -> str:
    """SQL: 1 when `column` is more than SPLIT_CHECK_MARGIN from every phase boundary, else 0.

    A router learns of a new split within a second or so, and its clock may differ from
    ours by a few seconds: a call started just after a pause may still have been sent to
    the paused variant. Such calls are analysed as usual but not counted by the split check,
    which would read one unit on a paused variant as a broken split. The two CASEs place the
    time against the boundaries moved earlier and later by the margin: they agree when no
    boundary is within the margin. Parameters: the boundaries moved earlier, then later."""
    if boundaries < 2:
        return "1"
    early_and_late = f"{phase_of(column, boundaries)} = {phase_of(column, boundaries)}"
    return f"CASE WHEN {early_and_late} THEN 1 ELSE 0 END"


COUNTED = "c.experiment_id = %s AND c.variant_id IS NOT NULL AND NOT c.after_stop"


def unit_rows(
    unit: str, metrics: Sequence[Metric] = (), carried: Sequence[str] = ()
) -> tuple[str, str, str, str]:
    """How the calls of an experiment become units: (FROM source aliased c, WHERE clause,
    the unit's column, the column that places the unit in a phase). Caller mode: in each
    caller's call order, the variant and start of their first call are the caller's, and
    their calls with another variant are left out. One %s: the experiment id. `carried`:
    more call columns the query reads (a segment's)."""
    if unit != "caller":
        return "calls_call c", COUNTED, "c.id", "c.started_at"
    calls = f"""(
            SELECT {_call_columns(metrics or tuple(METRICS.values()), carried)},
                FIRST_VALUE(c.variant_id) OVER first_call AS first_variant,
                FIRST_VALUE(c.started_at) OVER first_call AS first_at
            FROM calls_call c WHERE {COUNTED}
            WINDOW first_call AS (PARTITION BY c.caller ORDER BY c.started_at, c.id)
        ) c"""
    return calls, "c.variant_id = c.first_variant", "c.caller", "c.first_at"


def aggregate_sql(
    *,
    unit: str,
    duration_cap: float | None,
    judged: bool = False,
    phases: int = 1,
    metrics: Sequence[Metric] = (),
    dimensions: Sequence[Dimension] = (),
) -> str:
    """The query. Its parameters, in the order `aggregate` passes them: the phase boundaries
    (see `phase_of` and `_checked`), the dimensions', then the experiment id and the judge's
    and joins' (in the order the FROM names them). With `dimensions` (PostgreSQL only), each
    unit is also tagged with its value of each and the same scan gives the rows per
    (dimension, value, variant, phase): see `_split`."""
    duration = (
        VALID_DURATION
        if duration_cap is None
        else (
            f"CASE WHEN ({VALID_DURATION}) > {float(duration_cap)!r} "
            f"THEN {float(duration_cap)!r} ELSE {VALID_DURATION} END"
        )
    )
    metrics = metrics or tuple(METRICS.values())
    carried = [column for d in dimensions for column in d.columns]
    calls, where, unit_column, at = unit_rows(unit, metrics, carried)
    summed = _summed(metrics)  # quantiles: apps.results.quantiles
    outer, inner = (f", {f(summed)}" if summed else "" for f in (_outer_columns, _inner_columns))
    tags = "".join(f", {_tag(d, unit, at)} AS d{i}" for i, d in enumerate(dimensions))
    joins = " ".join(d.join for d in _joins(dimensions))
    per_unit = f"""
            SELECT c.variant_id, {phase_of(at, phases)} AS phase, {unit_column} AS unit,
                   MAX({_checked(at, phases)}) AS checked, COUNT(*) AS calls {tags}
                   {inner.replace("DURATION", duration)}
            FROM {calls} {JUDGED if judged else NOT_JUDGED} {joins}
            WHERE {where}
            GROUP BY 3, 1, 2"""
    if dimensions:
        return _split(per_unit, dimensions, summed)
    return f"""
        SELECT variant_id, phase, SUM(calls), COUNT(*), SUM(checked) {outer}
        FROM ({per_unit}) per_unit
        GROUP BY variant_id, phase
    """


def _tag(dimension: Dimension, unit: str, at: str) -> str:
    """SQL for a unit's value of `dimension`, in the per-unit GROUP BY: from the unit's own
    columns once per unit when it can be (`per_unit`: the caller's number, the time of the
    unit's first call), else from the unit's first call, picked among its calls. Compared
    byte by byte (COLLATE "C"): the values are only grouped, never shown in order."""
    if dimension.per_unit:
        value = dimension.sql.replace("{at}", f"MIN({at})")
        value = value.replace("{first_ever}", "MIN(r.first_ever)")
    else:
        first = "c.started_at = c.first_at" if unit == "caller" else "TRUE"
        value = f"MIN(CASE WHEN {first} THEN {dimension.sql} END)"
    return f"COALESCE(({value}) COLLATE \"C\", '')"


def _split(per_unit: str, dimensions: Sequence[Dimension], summed: Sequence[Metric]) -> str:
    """The per-unit rows -> `cells`, one per (variant, phase, value of every dimension), each
    with every metric's sums over its units -> GROUPING SETS over the cells: per (variant,
    phase), the rows of the experiment as a whole (dim NULL), and per (variant, phase, value)
    of each dimension. Values ranked beyond a dimension's cap by units are summed into one row
    whose value is NULL. Every figure is a sum over units, so summing cells is exact, and the
    calls are read once whatever the number of dimensions; the cells are few (their number
    is at most the product of the dimensions' values, and never above the units')."""
    tags = [f"d{i}" for i in range(len(dimensions))]
    sums = [f"s{j}" for j in range(6 * len(summed))]
    cell_sums = "".join(f", {sql} AS s{j}" for j, sql in enumerate(_outer_sums(summed)))
    total = "".join(f", SUM({name})" for name in sums)
    which = " ".join(f"WHEN GROUPING({d}) = 0 THEN {i}" for i, d in enumerate(tags))
    sets = ", ".join(f"(variant_id, phase, {d})" for d in tags)
    caps = " ".join(
        f"WHEN {i} THEN {int(d.cap)}" for i, d in enumerate(dimensions) if d.cap is not None
    )
    kept = f"rank <= CASE dim {caps} ELSE rank END" if caps else "TRUE"
    return f"""
        WITH per_unit AS ({per_unit}),
        cells AS (
            SELECT variant_id, phase, {", ".join(tags)}, SUM(calls) AS calls,
                   COUNT(*) AS units, SUM(checked) AS checked {cell_sums}
            FROM per_unit GROUP BY variant_id, phase, {", ".join(tags)}
        ),
        grouped AS (
            SELECT CASE {which} END AS dim, COALESCE({", ".join(tags)}) AS value,
                   variant_id, phase, SUM(calls) AS calls, SUM(units) AS units,
                   SUM(checked) AS checked {"".join(f", SUM({n}) AS {n}" for n in sums)}
            FROM cells GROUP BY GROUPING SETS ((variant_id, phase), {sets})
        ),
        ranked AS (
            SELECT totals.*, DENSE_RANK() OVER (PARTITION BY dim ORDER BY total DESC, value)
                AS rank
            FROM (SELECT grouped.*, SUM(units) OVER (PARTITION BY dim, value) AS total
                  FROM grouped) totals
        )
        SELECT dim, CASE WHEN dim IS NULL OR {kept} THEN value END,
               variant_id, phase, SUM(calls), SUM(units), SUM(checked) {total}
        FROM ranked GROUP BY 1, 2, 3, 4
    """


def duration_cap(experiment_id: int) -> float | None:
    """The 99th percentile of call durations in the experiment (None when there are none)."""
    valid = f"duration_seconds >= 0 AND duration_seconds <= {MAX_DURATION_SECONDS}"
    sql = f"""SELECT duration_seconds FROM calls_call
             WHERE experiment_id = %s AND {valid} AND NOT after_stop
             ORDER BY duration_seconds LIMIT 1 OFFSET %s"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM calls_call WHERE experiment_id = %s AND {valid} "
            "AND NOT after_stop",
            [experiment_id],
        )
        count = cursor.fetchone()[0]
        if not count:
            return None
        cursor.execute(sql, [experiment_id, int(0.99 * (count - 1))])
        return float(cursor.fetchone()[0])


def aggregate(
    experiment_id: int,
    *,
    unit: str,
    cap: bool = False,
    judge: tuple | None = None,
    phase_starts: Sequence[datetime] = (),
    metrics: Sequence[Metric] = (),
    dimensions: Sequence[Dimension] = (),
) -> dict[int, ArmData]:
    """Sufficient statistics per variant id, for every metric, overall and per phase, in one
    query. `phase_starts` are the start times of the split's phases, oldest first (none or
    one: a single phase).

    `judge` is (criterion id, model, prompt version) for a custom goal: whose verdicts count.
    `metrics`: which to aggregate (default: every built-in one; an experiment's are
    `apps.metrics.for_agent(agent_id)`). `dimensions` (PostgreSQL only): the same query also
    gives each arm's rows per value of each (`ArmData.segments`).
    """
    metrics = tuple(metrics) or tuple(METRICS.values())
    if dimensions and connection.vendor != "postgresql":
        raise NotImplementedError("Splitting by segment needs PostgreSQL (GROUPING SETS).")
    cap_value = duration_cap(experiment_id) if cap else None
    sql = aggregate_sql(
        unit=unit,
        duration_cap=cap_value,
        judged=judge is not None,
        phases=len(phase_starts),
        metrics=metrics,
        dimensions=dimensions,
    )
    boundaries = [
        *phase_params(phase_starts),
        *phase_params(phase_starts, -SPLIT_CHECK_MARGIN),
        *phase_params(phase_starts, SPLIT_CHECK_MARGIN),
        *(param for d in dimensions for param in d.params),
    ]
    joined = [*(judge or ()), *(p for d in _joins(dimensions) for p in d.join_params)]
    if unit == "caller":  # the experiment is chosen in the first-call subquery
        params = [*boundaries, experiment_id, *joined]
    else:
        params = [*boundaries, *joined, experiment_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    keys = [m.key for m in _summed(metrics)]
    if dimensions:
        arms = _arms([row[2:] for row in rows if row[0] is None], keys)
        arms = _with_segments(arms, [row for row in rows if row[0] is not None], keys, dimensions)
    else:
        arms = _arms(rows, keys)
    return _with_quantiles(arms, experiment_id, unit, phase_starts, metrics)


def _joins(dimensions: Sequence[Dimension]) -> list[Dimension]:
    """The dimensions whose join the query makes: the first of each distinct join."""
    first: dict[str, Dimension] = {}
    for d in dimensions:
        if d.join:
            first.setdefault(d.join, d)
    return list(first.values())


def _with_segments(arms, rows, keys: list[str], dimensions) -> dict[int, ArmData]:
    parts: dict[int, list[list[SegmentPart]]] = {}
    for dim, value, variant_id, phase, calls, units, _, *values in rows:
        mine = parts.setdefault(variant_id, [[] for _ in dimensions])
        stats = {name: _stats(values, i) for i, name in enumerate(keys)}
        mine[dim].append(SegmentPart(value, int(phase), int(units), int(calls), stats))
    return {
        variant_id: replace(
            arm, segments=tuple(map(tuple, parts.get(variant_id, [[] for _ in dimensions])))
        )
        for variant_id, arm in arms.items()
    }


def _with_quantiles(arms, experiment_id, unit, phase_starts, metrics) -> dict[int, ArmData]:
    """The arms with their quantile metrics (one more scan of the calls, if any)."""
    from apps.results.quantiles import aggregate_quantiles  # it builds on this module

    found = aggregate_quantiles(
        experiment_id, unit=unit, phase_starts=phase_starts, metrics=metrics
    )
    return {
        variant_id: replace(arm, quantiles=found.get(variant_id, {}))
        for variant_id, arm in arms.items()
    }


def _arms(rows, keys: list[str]) -> dict[int, ArmData]:
    by_variant: dict[int, list] = {}
    for variant_id, phase, calls, units, checked, *values in rows:
        parts = by_variant.setdefault(variant_id, [])
        parts.append((int(phase), int(calls), int(units), values, int(checked or 0)))
    return {variant_id: _arm(variant_id, parts, keys) for variant_id, parts in by_variant.items()}


def _stats(values, i: int) -> RatioStats:
    n, num, num2, den, den2, cross = values[6 * i : 6 * i + 6]
    return RatioStats(
        int(n or 0),
        float(num or 0),
        float(num2 or 0),
        float(den or 0),
        float(den2 or 0),
        float(cross or 0),
    )


def _arm(variant_id: int, parts, keys: list[str]) -> ArmData:
    phases = {
        phase: {name: _stats(values, i) for i, name in enumerate(keys)}
        for phase, _, _, values, _ in parts
    }
    total = {name: sum_stats([p[name] for p in phases.values()]) for name in keys}
    return ArmData(
        variant_id,
        sum(part[1] for part in parts),
        sum(part[2] for part in parts),
        total,
        phases,
        {part[0]: part[4] for part in parts},
    )


def sum_stats(parts: Sequence[RatioStats]) -> RatioStats:
    """Sufficient statistics of the union of disjoint sets of units: their sums."""
    return RatioStats(
        sum(p.n for p in parts),
        sum(p.num_sum for p in parts),
        sum(p.num_sum_squares for p in parts),
        sum(p.den_sum for p in parts),
        sum(p.den_sum_squares for p in parts),
        sum(p.cross_sum for p in parts),
    )
