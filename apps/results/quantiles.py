"""Quantile metrics from calls: one more scan of an experiment's calls, for all of them.

A quantile cannot be summed per unit like a mean (apps.results.aggregation), and its
standard error needs, per unit, the calls at or below the arm's own sample quantile
(apps.stats.quantile). PostgreSQL does it in one statement: the calls are read once into
`w` (variant, phase, unit and each quantile metric's value), then per (variant, phase):
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
from datetime import datetime

from django.db import connection

from apps.metrics import Metric
from apps.results.aggregation import VALID_DURATION, phase_of, phase_params, unit_rows
from apps.stats.quantile import QuantileStats, Z, quantile_stats
from apps.stats.types import RatioStats

ALL = -1  # the phase key of a variant's quantile over all its phases

# {variant id: {phase (or ALL): {metric key: QuantileStats}}}
ByVariant = dict[int, dict[int, dict[str, QuantileStats]]]


def _value(metric: Metric) -> str:
    """The metric's value as a finite double, else NULL."""
    value = f"CAST(({metric.value.replace('DURATION', VALID_DURATION)}) AS DOUBLE PRECISION)"
    if connection.vendor != "postgresql":
        return value
    return f"CASE WHEN {value} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {value} END"


def _source(unit: str, phases: int, metrics: Sequence[Metric]) -> str:
    """SELECT of (variant_id, phase, unit, q0, q1, ...) over the experiment's counted calls.
    Parameters: the phase boundaries, then the experiment id."""
    calls, where, unit_column, at = unit_rows(unit, metrics)
    values = ", ".join(f"{_value(m)} AS q{i}" for i, m in enumerate(metrics))
    return f"""SELECT c.variant_id, {phase_of(at, phases)} AS grp, {unit_column} AS unit,
               {values}
        FROM {calls} WHERE {where}"""


def _levels(metric: Metric, i: int) -> str:
    """ARRAY[p - h, p, p + h] with h from the group's count (apps.stats.quantile)."""
    p = float(metric.quantile)
    h = f"{Z!r} * SQRT({p * (1 - p)!r} / GREATEST(g.n{i}, 1))"
    return f"ARRAY[GREATEST(0.0, {p!r} - {h}), {p!r}, LEAST(1.0, {p!r} + {h})]"


def quantile_sql(*, unit: str, phases: int, metrics: Sequence[Metric]) -> str:
    """The PostgreSQL statement (module docstring). Its parameters: `_params`."""
    keys = range(len(metrics))
    pooled = (
        f"UNION ALL SELECT variant_id, {ALL}, unit, {', '.join(f'q{i}' for i in keys)} FROM v"
        if phases > 1
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
        WITH v AS ({_source(unit, phases, metrics)}),
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


def _params(experiment_id: int, phase_starts: Sequence[datetime]) -> list:
    return [*phase_params(phase_starts), experiment_id]


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


def _in_python(
    experiment_id: int, unit: str, phase_starts: Sequence[datetime], metrics: Sequence[Metric]
) -> ByVariant:
    """SQLite: fetch each counted call's values, compute with apps.stats.quantile."""
    values: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with connection.cursor() as cursor:
        cursor.execute(
            _source(unit, len(phase_starts), metrics), _params(experiment_id, phase_starts)
        )
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
    if connection.vendor != "postgresql":
        return _in_python(experiment_id, unit, phase_starts, metrics)
    sql = quantile_sql(unit=unit, phases=len(phase_starts), metrics=metrics)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(experiment_id, phase_starts))
        rows = cursor.fetchall()
    return _from_rows(rows, metrics, len(phase_starts))
