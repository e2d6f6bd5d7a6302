"""From calls to sufficient statistics: one GROUP BY per experiment, in the database.

Every metric is analysed per assignment unit. When each caller keeps one variant, a caller
who calls three times is one unit whose value is (sum over their calls) / (their calls):
a ratio metric, so repeat callers do not inflate significance. In per-call experiments each
call is its own unit (the ratio's denominator is then always 1, i.e. a plain mean).

The inner query groups by (variant, unit) and yields, for each metric, the unit's sum and
count of non-empty values; the outer query sums those per variant into n, sums, sums of
squares and cross products. Works on PostgreSQL and on SQLite (the embedded default).

Values outside what a call can be are ignored, as if the call had not reported them: rows
stored before ingestion refused them may hold a duration of Infinity or 1e308, whose sums
overflow PostgreSQL's float (an error, and no results for the whole experiment). Ignored
rather than clamped: Infinity is not a long call, and counting it as a day-long one would
move the mean by a call that never happened. The call still counts for its other metrics.
"""

from dataclasses import dataclass

from django.db import connection

from apps.stats.types import RatioStats

MAX_DURATION_SECONDS = 86_400  # as the call report schema and the call_duration_range check
# One call's duration and sentiment, NULL when outside what a call can be (NaN included:
# PostgreSQL orders NaN above every number, so it fails the upper bound).
VALID_DURATION = (
    f"CASE WHEN c.duration_seconds >= 0 AND c.duration_seconds <= {MAX_DURATION_SECONDS} "
    "THEN c.duration_seconds END"
)
VALID_SENTIMENT = "CASE WHEN c.sentiment >= -1 AND c.sentiment <= 1 THEN c.sentiment END"

# metric -> SQL for one call's value (NULL when the call did not report it)
METRICS = {
    "conversion": "CASE WHEN c.converted IS NULL THEN NULL WHEN c.converted THEN 1.0 ELSE 0.0 END",
    "sentiment": VALID_SENTIMENT,
    "duration": "DURATION",
    "transfer_rate": "CASE WHEN c.transferred IS NULL THEN NULL "
    "WHEN c.transferred THEN 1.0 ELSE 0.0 END",
    "completion_rate": "CASE WHEN c.completed IS NULL THEN NULL "
    "WHEN c.completed THEN 1.0 ELSE 0.0 END",
    # The judge's pass (1) or fail (0) under the current criterion, model and prompt;
    # unknown verdicts and judge errors are NULL: left out of the goal, counted apart.
    "custom": "j.value",
}
JUDGED = """LEFT JOIN (
    SELECT call_id, CASE verdict WHEN 'pass' THEN 1.0 WHEN 'fail' THEN 0.0 END AS value
    FROM judging_judgement WHERE criterion_id = %s AND model = %s AND prompt_version = %s
) j ON j.call_id = c.id"""
NOT_JUDGED = (
    "LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS call_id, CAST(NULL AS REAL) AS value) j ON 1 = 0"
)


@dataclass(frozen=True)
class ArmData:
    variant_id: int
    calls: int
    units: int
    metrics: dict[str, RatioStats]


def _inner_columns() -> str:
    return ",\n".join(
        f"SUM({expr}) AS {name}_num, COUNT({expr}) AS {name}_den" for name, expr in METRICS.items()
    )


def _outer_columns() -> str:
    parts = []
    for m in METRICS:
        num, den = f"COALESCE({m}_num, 0)", f"{m}_den"
        parts.append(
            f"SUM(CASE WHEN {den} > 0 THEN 1 ELSE 0 END), SUM({num}), SUM({num} * {num}), "
            f"SUM({den}), SUM({den} * {den}), SUM({num} * {den})"
        )
    return ",\n".join(parts)


def aggregate_sql(*, unit: str, duration_cap: float | None, judged: bool = False) -> str:
    unit_column = "c.caller" if unit == "caller" else "c.id"
    duration = (
        VALID_DURATION
        if duration_cap is None
        else (
            f"CASE WHEN ({VALID_DURATION}) > {float(duration_cap)!r} "
            f"THEN {float(duration_cap)!r} ELSE {VALID_DURATION} END"
        )
    )
    return f"""
        SELECT variant_id, SUM(calls), COUNT(*), {_outer_columns()}
        FROM (
            SELECT c.variant_id, {unit_column} AS unit, COUNT(*) AS calls,
                   {_inner_columns().replace("DURATION", duration)}
            FROM calls_call c {JUDGED if judged else NOT_JUDGED}
            WHERE c.experiment_id = %s AND c.variant_id IS NOT NULL AND NOT c.after_stop
            GROUP BY c.variant_id, {unit_column}
        ) per_unit
        GROUP BY variant_id
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
    experiment_id: int, *, unit: str, cap: bool = False, judge: tuple | None = None
) -> dict[int, ArmData]:
    """Sufficient statistics per variant id, for every metric, in one query.

    `judge` is (criterion id, model, prompt version) for a custom goal: whose verdicts count.
    """
    cap_value = duration_cap(experiment_id) if cap else None
    sql = aggregate_sql(unit=unit, duration_cap=cap_value, judged=judge is not None)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(judge or ()), experiment_id])
        rows = cursor.fetchall()
    return {row[0]: _arm(row) for row in rows}


def _arm(row) -> ArmData:
    variant_id, calls, units, *values = row
    metrics = {}
    for i, name in enumerate(METRICS):
        n, num, num2, den, den2, cross = values[6 * i : 6 * i + 6]
        metrics[name] = RatioStats(
            int(n or 0),
            float(num or 0),
            float(num2 or 0),
            float(den or 0),
            float(den2 or 0),
            float(cross or 0),
        )
    return ArmData(variant_id, int(calls), int(units), metrics)
