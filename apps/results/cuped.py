"""The goal's caller history, for CUPED (apps/stats/cuped.py): one extra query.

For each caller in the experiment (caller mode), the goal's sums over their calls in the
experiment (exactly as apps/results/aggregation.py counts them: the variant and phase of their
first call, units with a value only) and over their calls to the same agent in the 30 days
before their first call in the experiment: the pre-period. Calls at or after the first
exposure are never history (the counted calls all start at or after it), so the covariate
cannot depend on the variant. Summed per (variant, phase) into `CovariateStats`.

Only for the goals in `GOALS` (those the simulation showed it safe and useful for), in caller
mode (a call has no history of its own), on PostgreSQL (the embedded SQLite default runs
without it), and never for the judge's `custom` goal: its verdicts exist only for the
experiment's calls. The pre-period scan reads the agent's calls between the earliest
first exposure minus 30 days and the latest one, through the (agent, started_at, id) index.
"""

from datetime import timedelta

from django.db import connection

from apps.metrics import Metric
from apps.results.aggregation import (
    VALID_DURATION,
    duration_cap,
    phase_of,
    phase_params,
    unit_rows,
    unit_sums,
)
from apps.stats.cuped import COVARIATES, CovariateStats
from apps.stats.types import RatioStats

# The goals CUPED is on for: those where the A/A table (bench/aa_table.py, docs/benchmarks.md)
# showed it safe (at most 5% false verdicts over 100 looks, also after a split change) and a
# power gain on the same draws. Call duration with persistent caller effects: A/A 1.9% (50/50)
# and 2.7% (split change with a drift), power 93.7% against 87.7% without (21 experiments of
# 300 found the lift only with CUPED, 3 only without). Not conversion: at 1-2% a caller's
# history explained too little to gain anything (83.0% against 82.7%); no other goal has
# been simulated.
GOALS = frozenset({"duration"})
HISTORY = timedelta(days=30)


def applies(*, unit: str, goal: str) -> bool:
    """Whether the results of such an experiment use CUPED on their goal: a goal it was shown
    for, in caller mode, on PostgreSQL; never the judge's `custom` goal (module docstring)."""
    shown = goal in GOALS and goal != "custom"
    return shown and unit == "caller" and connection.vendor == "postgresql"


def _double(sql: str) -> str:
    return f"CAST({sql} AS DOUBLE PRECISION)"


def covariate_sql(metric: Metric, *, phases: int, cap: float | None) -> str:
    """The query; parameters: the phase boundaries, the experiment id, the agent id, the
    pre-period length twice (see `covariates`)."""
    duration = VALID_DURATION
    if cap is not None:  # as aggregation.aggregate_sql (LEAST would turn NULL into the cap)
        duration = (
            f"CASE WHEN ({VALID_DURATION}) > {float(cap)!r} "
            f"THEN {float(cap)!r} ELSE {VALID_DURATION} END"
        )
    values, weights = (s.replace("DURATION", duration) for s in unit_sums(metric))
    calls, where, _, at = unit_rows("caller", (metric,))
    return f"""
        WITH exposed AS (
            SELECT * FROM (
                SELECT c.variant_id, {phase_of(at, phases)} AS phase, c.caller AS unit,
                       MIN(c.first_at) AS first_at,
                       {_double(values)} AS num, {_double(weights)} AS den
                FROM {calls} WHERE {where}
                GROUP BY 3, 1, 2
            ) per_unit WHERE den > 0
        ), history AS (
            SELECT u.unit, {_double(values)} AS pre_num, {_double(weights)} AS pre_den
            FROM exposed u JOIN calls_call c ON c.caller = u.unit
            WHERE c.agent_id = %s
              AND c.started_at >= (SELECT MIN(first_at) FROM exposed) - %s
              AND c.started_at < (SELECT MAX(first_at) FROM exposed)
              AND c.started_at >= u.first_at - %s AND c.started_at < u.first_at
            GROUP BY u.unit
        ), units AS (
            SELECT e.variant_id, e.phase, e.num, e.den,
                   CASE WHEN h.pre_den > 0 THEN h.pre_num / h.pre_den ELSE 0 END AS x1,
                   CASE WHEN h.pre_den > 0 THEN 1.0 ELSE 0.0 END AS x2
            FROM exposed e LEFT JOIN history h ON h.unit = e.unit
        )
        SELECT variant_id, phase, COUNT(*), SUM(x2),
               SUM(num), SUM(num * num), SUM(den), SUM(den * den), SUM(num * den),
               SUM(x1), SUM(x2),
               SUM(x1 * x1), SUM(x1 * x2), SUM(x2 * x1), SUM(x2 * x2),
               SUM(x1 * num), SUM(x2 * num), SUM(x1 * den), SUM(x2 * den)
        FROM units GROUP BY variant_id, phase
    """


def covariates(
    experiment_id: int,
    *,
    agent_id: int,
    metric: Metric,
    phase_starts=(),
    cap: bool = False,
) -> dict[int, dict[int, CovariateStats]]:
    """variant id -> phase -> the goal's CovariateStats of the experiment's callers."""
    cap_value = duration_cap(experiment_id) if cap else None
    sql = covariate_sql(metric, phases=len(phase_starts), cap=cap_value)
    params = [*phase_params(phase_starts), experiment_id, agent_id, HISTORY, HISTORY]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out: dict[int, dict[int, CovariateStats]] = {}
    for variant_id, phase, *values in rows:
        out.setdefault(variant_id, {})[int(phase)] = _stats(values)
    return out


def _stats(values) -> CovariateStats:
    n, with_history, *sums = (0.0 if v is None else float(v) for v in values)
    k = COVARIATES
    ratio, rest = sums[:5], sums[5:]
    return CovariateStats(
        RatioStats(int(n), *ratio),
        int(with_history),
        tuple(rest[:k]),
        tuple(rest[k : k + k * k]),
        tuple(rest[k + k * k : 2 * k + k * k]),
        tuple(rest[2 * k + k * k :]),
    )
