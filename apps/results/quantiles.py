"""Quantile metrics from calls: one more scan of an experiment's calls, for all of them.

A quantile cannot be summed per unit like a mean (apps.results.aggregation), and its
standard error needs, per unit, the calls at or below the arm's own sample quantile
(apps.stats.quantile). Which calls, and how they make units, is a :class:`Calls`: an
experiment's counted calls (:func:`experiment_calls`, for its results) or an agent's calls
since a time (:func:`agent_calls`, the planner's baseline, as if they were one control arm).
The statistics are computed the same way for both. PostgreSQL does it in one statement: the
calls are read once into `w` (variant, phase, unit and each quantile metric's value), then
per (variant, phase):
the count of values, `percentile_cont` at the level and at the two Woodruff levels (which
depend on that count), and per unit the values <= the quantile, summed into ratio
statistics. Each variant's quantile over all phases is computed too (phase ALL), from
the same rows counted once more, so the value shown is the arm's own percentile, while the
comparison stays within phases (apps.stats.strata).

SQLite, the embedded default of `make run`, has no percentile_cont: the values are fetched
and apps.stats.quantile computes the same numbers in Python.

Values that are not finite numbers (NaN, Infinity) are ignored, whatever a metric's SQL
lets through, as are calls that did not report one.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from apps.metrics import Metric
from apps.results.aggregation import VALID_DURATION, phase_of, phase_params, unit_rows
from apps.stats.quantile import NO_UNITS, QuantileStats, Z, quantile_stats
from apps.stats.types import RatioStats

ALL = -1  # the phase key of a variant's quantile over all its phases

# {variant id: {phase (or ALL): {metric key: QuantileStats}}}
ByVariant = dict[int, dict[int, dict[str, QuantileStats]]]


def value_sql(metric: Metric) -> str:
    """The metric's value as a finite double, else NULL."""
    value = f"CAST(({metric.value.replace('DURATION', VALID_DURATION)}) AS DOUBLE PRECISION)"
    if connection.vendor != "postgresql":
        return value
    return f"CASE WHEN {value} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {value} END"


@dataclass(frozen=True)
class Calls:
    """The calls a quantile is computed over: `sql` selects one row per call, (variant_id,
    grp, unit, q0, q1, ...) for the metrics it was built for, with `params`; `phases` is
    how many phases grp takes (fewer than 2: one)."""

    sql: str
    params: tuple
    phases: int = 1


def _values(metrics: Sequence[Metric]) -> str:
    return ", ".join(f"{value_sql(m)} AS q{i}" for i, m in enumerate(metrics))


def experiment_calls(
    experiment_id: int, *, unit: str, phase_starts: Sequence[datetime], metrics: Sequence[Metric]
) -> Calls:
    """An experiment's counted calls, per variant and phase, in its units
    (apps.results.aggregation.unit_rows: a caller's calls with their first variant)."""
    calls, where, unit_column, at = unit_rows(unit, metrics)
    sql = f"""SELECT c.variant_id, {phase_of(at, len(phase_starts))} AS grp,
               {unit_column} AS unit, {_values(metrics)}
        FROM {calls} WHERE {where}"""
    return Calls(sql, (*phase_params(phase_starts), experiment_id), len(phase_starts))


def agent_calls(agent_id: int, *, since: datetime, unit: str, metrics: Sequence[Metric]) -> Calls:
    """An agent's calls started at `since` or later, as one group (variant id 0, one phase):
    what a control arm that got exactly these calls would hold. A unit is a caller (all
    their calls) or, when `unit` is "call", each call."""
    unit_column = "c.caller" if unit == "caller" else "c.id"
    sql = f"""SELECT 0 AS variant_id, 0 AS grp, {unit_column} AS unit, {_values(metrics)}
        FROM calls_call c WHERE c.agent_id = %s AND c.started_at >= %s"""
    return Calls(sql, (agent_id, connection.ops.adapt_datetimefield_value(since)))


def _levels(metric: Metric, i: int) -> str:
    """ARRAY[p - h, p, p + h] with h from the group's count (apps.stats.quantile)."""
    p = float(metric.quantile)
    h = f"{Z!r} * SQRT({p * (1 - p)!r} / GREATEST(g.n{i}, 1))"
    return f"ARRAY[GREATEST(0.0, {p!r} - {h}), {p!r}, LEAST(1.0, {p!r} + {h})]"


def quantile_sql(calls: Calls, metrics: Sequence[Metric]) -> str:
    """The PostgreSQL statement (module docstring) over `calls`, built for `metrics`. Its
    parameters: `calls.params`."""
    keys = range(len(metrics))
    pooled = (
        f"UNION ALL SELECT variant_id, {ALL}, unit, {', '.join(f'q{i}' for i in keys)} FROM v"
        if calls.phases > 1
        else ""
    )
    counts = ", ".join(f"COUNT(q{i}) AS n{i}" for i in keys)
    n_cols = ", ".join(f"g.n{i}" for i in keys)
    cuts = ", ".join(
        f"percentile_cont({_levels(m, i)}) WITHIN GROUP (ORDER BY w.q{i}) AS p{i}"
        for i, m in enumerate(metrics)
    )
    per_unit = ", ".join(
        f"COUNT(w.q{i}) FILTER (WHERE w.q{i} <= q.p{i}[2]) AS b{i}, COUNT(w.q{i}) AS d{i}"
        for i in keys
    )
    sums = ", ".join(
        f"COUNT(*) FILTER (WHERE d{i} > 0), SUM(b{i}), SUM(b{i} * b{i}), SUM(d{i}), "
        f"SUM(d{i} * d{i}), SUM(b{i} * d{i})"
        for i in keys
    )
    return f"""
        WITH v AS ({calls.sql}),
        w AS MATERIALIZED (SELECT * FROM v {pooled}),
        g AS (SELECT variant_id, grp, {counts} FROM w GROUP BY variant_id, grp),
        q AS (
            SELECT w.variant_id, w.grp, {n_cols}, {cuts}
            FROM w JOIN g ON g.variant_id = w.variant_id AND g.grp = w.grp
            GROUP BY w.variant_id, w.grp, {n_cols}
        ),
        u AS (
            SELECT w.variant_id, w.grp, w.unit, {per_unit}
            FROM w JOIN q ON q.variant_id = w.variant_id AND q.grp = w.grp
            GROUP BY w.variant_id, w.grp, w.unit
        ),
        s AS (SELECT variant_id, grp, {sums} FROM u GROUP BY variant_id, grp)
        SELECT q.*, s.* FROM q JOIN s ON s.variant_id = q.variant_id AND s.grp = q.grp
    """


def _stats(metric: Metric, n, cuts, sums) -> QuantileStats:
    lower, quantile, upper = cuts or (0.0, 0.0, 0.0)
    units, *rest = sums
    below = RatioStats(int(units or 0), *(float(x or 0) for x in rest))
    return QuantileStats(
        float(metric.quantile), int(n or 0), float(quantile), float(lower), float(upper), below
    )


def _from_rows(rows, metrics: Sequence[Metric], phases: int) -> ByVariant:
    k = len(metrics)
    out: ByVariant = defaultdict(dict)
    for row in rows:
        variant_id, grp = row[0], int(row[1])
        counts, cuts, sums = row[2 : 2 + k], row[2 + k : 2 + 2 * k], row[4 + 2 * k :]
        out[variant_id][grp] = {
            m.key: _stats(m, counts[i], cuts[i], sums[6 * i : 6 * i + 6])
            for i, m in enumerate(metrics)
        }
    return _with_pooled(out, phases)


def _with_pooled(out: ByVariant, phases: int) -> ByVariant:
    """With a single phase, the quantile over all phases is that phase's."""
    if phases < 2:
        for groups in out.values():
            groups[ALL] = groups.get(0, {})
    return dict(out)


def _in_python(calls: Calls, metrics: Sequence[Metric]) -> ByVariant:
    """SQLite: fetch each call's values, compute with apps.stats.quantile."""
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with connection.cursor() as cursor:
        cursor.execute(calls.sql, list(calls.params))
        for variant_id, grp, who, *row in cursor.fetchall():
            for group in {int(grp), ALL}:
                values[variant_id][group][who].append(row)
    return {
        variant_id: {
            group: {
                m.key: quantile_stats(
                    ([r[i] for r in rows if r[i] is not None] for rows in units.values()),
                    float(m.quantile),
                )
                for i, m in enumerate(metrics)
            }
            for group, units in groups.items()
        }
        for variant_id, groups in values.items()
    }


def quantiles_of(calls: Calls, metrics: Sequence[Metric]) -> ByVariant:
    """Every metric's QuantileStats per variant, per phase and over all phases (ALL), in one
    scan of `calls` (built for these `metrics`, all quantiles): PostgreSQL's one statement,
    or the same numbers in Python on SQLite."""
    if connection.vendor != "postgresql":
        return _in_python(calls, metrics)
    with connection.cursor() as cursor:
        cursor.execute(quantile_sql(calls, metrics), list(calls.params))
        rows = cursor.fetchall()
    return _from_rows(rows, metrics, calls.phases)


def aggregate_quantiles(
    experiment_id: int,
    *,
    unit: str,
    phase_starts: Sequence[datetime] = (),
    metrics: Sequence[Metric] = (),
) -> ByVariant:
    """Every quantile metric's statistics per variant, per phase and over all phases (ALL),
    in one scan of the experiment's calls (none when no metric is a quantile)."""
    metrics = [m for m in metrics if m.kind == "quantile"]
    if not metrics:
        return {}
    calls = experiment_calls(experiment_id, unit=unit, phase_starts=phase_starts, metrics=metrics)
    return quantiles_of(calls, metrics)


def agent_quantile(agent_id: int, *, since: datetime, unit: str, metric: Metric) -> QuantileStats:
    """One quantile metric's statistics over the agent's calls since `since` (the planner's
    baseline): what the results would hold for a control arm that got exactly these calls,
    in the same unit. No call with a value: n = 0."""
    calls = agent_calls(agent_id, since=since, unit=unit, metrics=[metric])
    found = quantiles_of(calls, [metric]).get(0, {}).get(ALL, {})
    return found.get(metric.key) or QuantileStats(
        float(metric.quantile), 0, 0.0, 0.0, 0.0, NO_UNITS
    )
