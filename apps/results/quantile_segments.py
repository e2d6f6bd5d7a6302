"""The goal per segment when the goal is a percentile (the 95th percentile response time).

A group's percentile is not a sum over units, so it cannot come out of the results' one
aggregate as the other goals' groups do (apps.results.segments). Each group gets its own
percentile from apps.results.quantiles, over the group's calls, all groups of one segment in one
scan: each call is tagged "<variant id>|v:<group>", and quantiles.py computes per tag exactly
what it computes per variant for the results (the percentile, its caller-clustered variance, per
phase and over all phases).

A unit's group is the one apps.results.segments gives it: that of its first call (its first
call's time and number; who ended its first call; its first call's field). Groups are capped in
SQL, not afterwards, because percentiles of several groups cannot be merged: a country is named
in SQL from a table of every number prefix (countries.prefix_regions_sql), and for a country or a
text field the MAX_VALUES groups with the most units are kept, the others together as "Other"
(tag "<variant id>|o:"). One segment at a time, on demand; never kept with the results (each
would cost a scan of its own). PostgreSQL only, like every segment.
"""

from dataclasses import dataclass

from apps.metrics import Metric
from apps.metrics.segments import Segment
from apps.results import countries
from apps.results.aggregation import phase_of, phase_params, unit_rows
from apps.results.quantiles import ALL, Calls, quantiles_of, value_sql
from apps.results.segments import MAX_VALUES, dimension
from apps.stats.quantile import quantile_moments
from apps.stats.types import Moments

VALUE, OTHER = "v:", "o:"


@dataclass(frozen=True)
class QuantileCell:
    """One (segment group, variant): units with a value, values, the percentile per phase as
    the comparison takes it, and the percentile over all phases (shown)."""

    units: int
    calls: int
    phases: dict[int, Moments]
    pooled: float | None

    def moments(self) -> dict[int, Moments]:
        return self.phases

    def shown(self) -> float | None:
        return self.pooled


def quantile_cells(experiment, segment: Segment, metric: Metric) -> dict:
    """{group value (None: "Other"): {variant id: QuantileCell}} of a percentile goal."""
    found = quantiles_of(_calls(experiment, segment, metric), [metric])
    out: dict = {}
    for tag, groups in found.items():
        variant, _, group = tag.partition("|")
        value = group[len(VALUE) :] if group.startswith(VALUE) else None
        pooled = groups[ALL][metric.key]
        phases = {k: quantile_moments(v[metric.key]) for k, v in groups.items() if k != ALL}
        out.setdefault(value, {})[int(variant)] = QuantileCell(
            units=pooled.below.n,
            calls=pooled.n,
            phases=phases,
            pooled=pooled.quantile if pooled.n else None,
        )
    return out


def _calls(experiment, segment: Segment, metric: Metric) -> Calls:
    """The experiment's counted calls, each with its unit's group in its tag."""
    d = dimension(experiment, segment)
    calls, where, unit_column, at = unit_rows(experiment.unit, [metric], d.columns)
    joins = d.join
    if d.per_unit:  # the same for all the unit's calls: read off each call
        group = d.sql.replace("{at}", at).replace("{first_ever}", "r.first_ever")
    else:  # the unit's first call's
        group = (
            f"FIRST_VALUE({d.sql}) OVER (PARTITION BY {unit_column} ORDER BY c.started_at, c.id)"
        )
    if segment.kind == "caller_country":
        joins += f" LEFT JOIN {countries.prefix_regions_sql()} ON prefix_region.prefix = ({group})"
        group = "prefix_region.region"
    starts = experiment.phase_starts
    tagged = f"""SELECT c.variant_id, {phase_of(at, len(starts))} AS grp, {unit_column} AS unit,
               {value_sql(metric)} AS q0, COALESCE(({group}) COLLATE "C", '') AS seg
        FROM {calls} {joins} WHERE {where}"""
    if segment.kind in ("caller_country", "field"):
        sql = f"""WITH tagged AS ({tagged}),
            ranked AS (
                SELECT seg, DENSE_RANK() OVER (ORDER BY COUNT(DISTINCT unit) DESC, seg) AS rank
                FROM tagged GROUP BY seg
            )
            SELECT t.variant_id || '|' || CASE WHEN r.rank <= {MAX_VALUES:d}
                       THEN '{VALUE}' || t.seg ELSE '{OTHER}' END AS variant_id,
                   t.grp, t.unit, t.q0
            FROM tagged t JOIN ranked r ON r.seg = t.seg"""
    else:
        sql = f"""SELECT variant_id || '|{VALUE}' || seg AS variant_id, grp, unit, q0
            FROM ({tagged}) tagged"""
    params = [*phase_params(starts), *d.params]
    params += [experiment.id] if experiment.unit == "caller" else []
    params += list(d.join_params)
    params += [experiment.id] if experiment.unit != "caller" else []
    return Calls(sql, tuple(params), len(starts))
