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
default).

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


def _call_columns(metrics: Sequence[Metric]) -> str:
    """What the per-caller pass carries of each call: what the metrics and the judge read."""
    metric_columns = (column for m in metrics for column in m.columns)
    names = dict.fromkeys(["id", "variant_id", "caller", "started_at", *metric_columns])
    return ", ".join(f"c.{name}" for name in names)


JUDGED = """LEFT JOIN (
    SELECT call_id, CASE verdict WHEN 'pass' THEN 1.0 WHEN 'fail' THEN 0.0 END AS value
    FROM judging_judgement WHERE criterion_id = %s AND model = %s AND prompt_version = %s
) j ON j.call_id = c.id"""
NOT_JUDGED = (
    "LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS call_id, CAST(NULL AS REAL) AS value) j ON 1 = 0"
)


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


def _outer_columns(metrics: Sequence[Metric]) -> str:
    parts = []
    for m in (metric.key for metric in metrics):
        num, den = f"COALESCE({m}_num, 0)", f"{m}_den"
        parts.append(
            f"SUM(CASE WHEN {den} > 0 THEN 1 ELSE 0 END), SUM({num}), SUM({num} * {num}), "
            f"SUM({den}), SUM({den} * {den}), SUM({num} * {den})"
        )
    return ",\n".join(parts)


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


def unit_rows(unit: str, metrics: Sequence[Metric] = ()) -> tuple[str, str, str, str]:
    """How the calls of an experiment become units: (FROM source aliased c, WHERE clause,
    the unit's column, the column that places the unit in a phase). Caller mode: in each
    caller's call order, the variant and start of their first call are the caller's, and
    their calls with another variant are left out. One %s: the experiment id."""
    if unit != "caller":
        return "calls_call c", COUNTED, "c.id", "c.started_at"
    calls = f"""(
            SELECT {_call_columns(metrics or tuple(METRICS.values()))},
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
) -> str:
    """The query. Its parameters: the judge's (criterion, model, prompt version) when
    `judged`, the phase boundaries (see `phase_of` and `_checked`) and the experiment id,
    in the order `aggregate` passes them."""
    duration = (
        VALID_DURATION
        if duration_cap is None
        else (
            f"CASE WHEN ({VALID_DURATION}) > {float(duration_cap)!r} "
            f"THEN {float(duration_cap)!r} ELSE {VALID_DURATION} END"
        )
    )
    metrics = metrics or tuple(METRICS.values())
    calls, where, unit_column, at = unit_rows(unit, metrics)
    summed = _summed(metrics)  # quantiles: apps.results.quantiles
    outer, inner = (f", {f(summed)}" if summed else "" for f in (_outer_columns, _inner_columns))
    return f"""
        SELECT variant_id, phase, SUM(calls), COUNT(*), SUM(checked) {outer}
        FROM (
            SELECT c.variant_id, {phase_of(at, phases)} AS phase, {unit_column} AS unit,
                   MAX({_checked(at, phases)}) AS checked, COUNT(*) AS calls
                   {inner.replace("DURATION", duration)}
            FROM {calls} {JUDGED if judged else NOT_JUDGED}
            WHERE {where}
            GROUP BY 3, 1, 2
        ) per_unit
        GROUP BY variant_id, phase
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
) -> dict[int, ArmData]:
    """Sufficient statistics per variant id, for every metric, overall and per phase, in one
    query. `phase_starts` are the start times of the split's phases, oldest first (none or
    one: a single phase).

    `judge` is (criterion id, model, prompt version) for a custom goal: whose verdicts count.
    `metrics`: which to aggregate (default: every built-in one; an experiment's are
    `apps.metrics.for_agent(agent_id)`).
    """
    metrics = tuple(metrics) or tuple(METRICS.values())
    cap_value = duration_cap(experiment_id) if cap else None
    sql = aggregate_sql(
        unit=unit,
        duration_cap=cap_value,
        judged=judge is not None,
        phases=len(phase_starts),
        metrics=metrics,
    )
    boundaries = [
        *phase_params(phase_starts),
        *phase_params(phase_starts, -SPLIT_CHECK_MARGIN),
        *phase_params(phase_starts, SPLIT_CHECK_MARGIN),
    ]
    if unit == "caller":  # the experiment is chosen in the first-call subquery
        params = [*boundaries, experiment_id, *(judge or ())]
    else:
        params = [*boundaries, *(judge or ()), experiment_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    arms = _arms(rows, [m.key for m in _summed(metrics)])
    return _with_quantiles(arms, experiment_id, unit, phase_starts, metrics)


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
