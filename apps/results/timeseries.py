"""The goal metric by call date: each variant's cumulative value and the cumulative change
vs the control with its always-valid range, per hour, day or week, computed from the calls.

One query per experiment. It groups the counted calls (as apps.results.aggregation counts
them: a caller belongs to the variant and phase of their first call) by (variant, phase,
unit, bucket), cumulates each unit's sums over its buckets with a window, and returns per
(variant, phase, bucket) how much each sufficient statistic grew: for a caller whose
running sums go from (N, D) to (N', D'), the sum of squares grows by N'² - N², and so on.
Summing those increments bucket after bucket gives, at every bucket's end, exactly the
statistics `aggregate` would return for the calls started before it. Each boundary is then
analysed by apps.results.analysis.analyse (the page's own analysis), the running range
carried from one boundary to the next, so the range narrows as calls come in and a verdict
cannot flip back. The last point starts from the latest snapshot's running ranges instead,
so where the chart ends it shows the numbers the verdict card shows.
"""

import math
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from apps import metrics
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.judging.services import criterion_current
from apps.metrics import Metric
from apps.results.aggregation import (
    JUDGED,
    NOT_JUDGED,
    VALID_DURATION,
    ArmData,
    phase_of,
    phase_params,
    unit_rows,
    unit_sums,
)
from apps.results.analysis import Arm, Setup, analyse
from apps.results.markers import markers
from apps.results.result import Result, Running
from apps.stats.types import RatioStats

MAX_BUCKETS = 200
# A variant's value is drawn from this many units on: with 2 callers a rate is 0%, 50% or
# 100%, a spike that would set the scale for the whole chart.
MIN_UNITS_DRAWN = 30
STEPS = (("hour", 3600), ("day", 86_400), ("week", 7 * 86_400))
CACHE_SECONDS = 60
NO_PERCENTILE_CHARTS = (
    "No chart by call date for a percentile goal: the table above gives it over all calls so far."
)
ZERO = RatioStats(0, 0.0, 0.0, 0.0, 0.0, 0.0)


def choose_step(start: datetime, end: datetime) -> tuple[str, int]:
    """Hours while they make at most MAX_BUCKETS points, then days, then weeks."""
    span = max(0.0, (end - start).total_seconds())
    for name, seconds in STEPS:
        if span // seconds + 2 <= MAX_BUCKETS:
            return name, seconds
    return STEPS[-1]


def _bucket_sql(step: int) -> str:
    if connection.vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM c.started_at) / {step})"
    return f"CAST((julianday(c.started_at) - 2440587.5) * 86400 / {step} AS INTEGER)"


def series_sql(*, unit: str, goal: Metric, step: int, judged: bool, phases: int) -> str:
    """Parameters, in order: the phase boundaries (latest first), then in caller mode the
    experiment id and the judge's three (when `judged`), in call mode the judge's three and
    the experiment id. The calls become units as the results make them
    (aggregation.unit_rows)."""
    values, weight = (sql.replace("DURATION", VALID_DURATION) for sql in unit_sums(goal))
    calls, where, unit_column, at = unit_rows(unit, (goal,))
    window = "PARTITION BY variant_id, phase, unit ORDER BY bucket"
    return f"""
        WITH per AS (
            SELECT c.variant_id, {phase_of(at, phases)} AS phase, {unit_column} AS unit,
                   {_bucket_sql(step)} AS bucket, COUNT(*) AS calls,
                   COALESCE({values}, 0) AS num, {weight} AS den
            FROM {calls} {JUDGED if judged else NOT_JUDGED}
            WHERE {where}
            GROUP BY 1, 2, 3, 4
        ), running AS (
            SELECT variant_id, phase, unit, bucket, calls,
                   SUM(num) OVER w AS n1, SUM(den) OVER w AS d1, ROW_NUMBER() OVER w AS nth
            FROM per WINDOW w AS ({window})
        ), steps AS (
            SELECT variant_id, phase, bucket, calls, nth, n1, d1,
                   COALESCE(LAG(n1) OVER w, 0) AS n0, COALESCE(LAG(d1) OVER w, 0) AS d0
            FROM running WINDOW w AS ({window})
        )
        SELECT variant_id, phase, bucket, SUM(calls),
               SUM(CASE WHEN nth = 1 THEN 1 ELSE 0 END),
               SUM(CASE WHEN d1 > 0 THEN 1 ELSE 0 END) - SUM(CASE WHEN d0 > 0 THEN 1 ELSE 0 END),
               SUM(n1 - n0), SUM(n1 * n1 - n0 * n0), SUM(d1 - d0), SUM(d1 * d1 - d0 * d0),
               SUM(n1 * d1 - n0 * d0)
        FROM steps GROUP BY variant_id, phase, bucket ORDER BY bucket
    """


def increments(experiment, step: int) -> list[tuple]:
    """(variant id, phase, bucket, calls, new units, then the goal's six increments)."""
    starts = experiment.phase_starts
    judge = _judge(experiment)
    sql = series_sql(
        unit=experiment.unit,
        goal=metrics.for_agent(experiment.agent_id)[experiment.goal_kind],
        step=step,
        judged=judge is not None,
        phases=len(starts),
    )
    boundaries = phase_params(starts)
    if experiment.unit == "caller":
        params = [*boundaries, experiment.pk, *(judge or ())]
    else:
        params = [*boundaries, *(judge or ()), experiment.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _judge(experiment) -> tuple | None:
    """Whose verdicts count for a custom goal, as apps.results.services reads them."""
    if experiment.goal_kind != "custom":
        return None
    return criterion_current(experiment=experiment).id, experiment.judge[1], JUDGE_PROMPT_VERSION


def _add(a: RatioStats, values) -> RatioStats:
    n, *sums = values
    return RatioStats(
        a.n + int(n or 0),
        a.num_sum + float(sums[0] or 0),
        a.num_sum_squares + float(sums[1] or 0),
        a.den_sum + float(sums[2] or 0),
        a.den_sum_squares + float(sums[3] or 0),
        a.cross_sum + float(sums[4] or 0),
    )


def experiment_series(experiment, snapshot=None) -> dict:
    """The chart's data, cached for a minute per experiment and snapshot."""
    key = f"results:series:{experiment.pk}:{snapshot.pk if snapshot else 0}"
    series = cache.get(key)
    if series is None:
        series = compute_series(experiment, previous=_running(snapshot))
        cache.set(key, series, CACHE_SECONDS)
    return series


def _running(snapshot) -> Running | None:
    return snapshot.result.running if snapshot is not None else None


def compute_series(
    experiment, previous: Running | None = None, now: datetime | None = None
) -> dict:
    """Points at the end of every bucket from the start to the stop (or now)."""
    variants = list(experiment.variants.order_by("-is_control", "key"))
    if experiment.started_at is None or not variants:
        return {"points": [], "variants": [], "markers": []}
    goal = metrics.for_agent(experiment.agent_id).get(experiment.goal_kind)
    if goal is None or goal.kind == "quantile":
        # A percentile of all calls so far cannot be built from per-period sums, and drawing
        # their mean instead would show a number the table above does not.
        return {"points": [], "variants": [], "markers": [], "note": NO_PERCENTILE_CHARTS}
    end = experiment.stopped_at or now or timezone.now()
    name, step = choose_step(experiment.started_at, end)
    rows = increments(experiment, step)
    first = int(experiment.started_at.timestamp() // step)
    last = max(first, math.ceil(end.timestamp() / step) - 1)  # the bucket holding `end`
    by_bucket: dict[int, list] = {}
    for row in rows:  # a router's clock may put a call a little before the start or after now
        by_bucket.setdefault(min(max(int(row[2]), first), last), []).append(row)
    state = _State(experiment, variants)
    points, keep = [], None
    for bucket in range(first, last + 1):
        for variant_id, phase, _, calls, units, *values in by_bucket.get(bucket, []):
            state.add(variant_id, int(phase), int(calls), int(units), values)
        at = min(end, datetime.fromtimestamp((bucket + 1) * step, tz=UTC))
        final = bucket == last
        result = analyse(state.setup(at, previous if final and previous else keep), state.arms(at))
        keep = result.running
        points.append(_point(at, result, experiment.min_calls_per_arm))
    return {
        "goal": experiment.goal_kind,
        "scale": goal.scale,
        "unit": experiment.unit,
        "step": name,
        "points": points,
        "variants": [{"key": v.key, "name": v.name, "is_control": v.is_control} for v in variants],
        "markers": markers(experiment, variants),
    }


def _point(at: datetime, result: Result, min_units: int) -> dict:
    """The point at `at`. Its changes only once every variant has the experiment's minimum
    of units, as the verdict: before that a range is too wide to read (and would squash
    the chart's later, useful part)."""
    point = {"t": at.isoformat(), "mean": {}, "units": {}, "lift": {}}
    compared = min((v.units for v in result.variants), default=0) >= min_units
    for v in result.variants:
        point["units"][v.key] = v.units
        point["mean"][v.key] = v.mean if v.units >= MIN_UNITS_DRAWN else None
        if compared and v.lift and v.lift.ok:
            point["lift"][v.key] = [v.lift.absolute, v.lift.ci_low, v.lift.ci_high]
    return point


class _State:
    """Running sums per variant and phase, and the analysis' inputs at a boundary."""

    def __init__(self, experiment, variants):
        self.experiment, self.variants = experiment, variants
        self.ids = {v.id: v for v in variants}
        self.stats: dict[int, dict[int, RatioStats]] = {v.id: {} for v in variants}
        self.calls = {v.id: 0 for v in variants}
        self.units: dict[int, dict[int, int]] = {v.id: {} for v in variants}
        self.phases = [
            (datetime.fromisoformat(p["started_at"]), p["weights"]) for p in experiment.phases
        ]

    def add(self, variant_id, phase, calls, units, values):
        if variant_id not in self.ids:
            return
        by_phase = self.stats[variant_id]
        by_phase[phase] = _add(by_phase.get(phase, ZERO), values)
        self.calls[variant_id] += calls
        self.units[variant_id][phase] = self.units[variant_id].get(phase, 0) + units

    def _splits(self, at):
        started = [weights for start, weights in self.phases if start < at] or [
            self.phases[0][1] if self.phases else {}
        ]
        keys = {str(i): v.key for i, v in self.ids.items()}
        return [{keys[i]: w for i, w in s.items() if i in keys} for s in started]

    def arms(self, at) -> list[Arm]:
        split = self._splits(at)[-1]
        goal = self.experiment.goal_kind
        arms = []
        for v in self.variants:
            phases = {k: {goal: s} for k, s in self.stats[v.id].items()}
            total = ZERO
            for s in self.stats[v.id].values():
                total = _add(
                    total,
                    (s.n, s.num_sum, s.num_sum_squares, s.den_sum, s.den_sum_squares, s.cross_sum),
                )
            data = ArmData(
                v.id,
                self.calls[v.id],
                sum(self.units[v.id].values()),
                {goal: total},
                phases,
                dict(self.units[v.id]),
            )
            arms.append(Arm(v.key, v.name, split.get(v.key, v.weight), v.is_control, data))
        return arms

    def setup(self, at, previous) -> Setup:
        e = self.experiment
        days = max((at - e.started_at).total_seconds() / 86400, 1 / 24)
        return Setup(
            goal=e.goal_kind,
            direction=e.goal_direction,
            guardrails=(),
            min_calls=e.min_calls_per_arm,
            tuning=e.sequential_tuning,
            min_lift=e.min_lift,
            calls_per_day=sum(self.calls.values()) / days,
            phases=tuple(self._splits(at)),
            unit=e.unit,
            previous=previous,
            metrics=metrics.for_agent(e.agent_id),
        )
