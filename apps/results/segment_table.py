"""A segment's table for the page and the API: per segment value, units and the goal per
variant, the change versus the control with its range corrected for the number of values
(apps.stats.segments), and plain sentences. Never a "winner" per segment: the correction is in
every range and every sentence says how many groups it is corrected for.

The segments an experiment keeps (`Experiment.segments`) are computed with its results, in the
same scan of the calls, and stored in each snapshot (`Result.segments`). Any other one is
computed when asked for, once per (experiment, latest snapshot, segment), and kept in Django's
cache, so that reading the page again does not scan the calls again; a new snapshot means new
numbers.
"""

from dataclasses import replace

from django.conf import settings
from django.core.cache import cache

from apps import metrics
from apps.calls.models import EndedBy
from apps.results import countries
from apps.results.analysis import ALPHA
from apps.results.quantile_segments import quantile_cells
from apps.results.segments import (
    MAX_VALUES,
    Segment,
    SegmentError,
    cells,
    parse,
    refusal,
    segment_cells,
)
from apps.stats.scales import format_change
from apps.stats.segments import Group, compare_groups, directions

CACHE_SECONDS = 6 * 3600
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
__all__ = ["SegmentError", "segment_table", "segment_tables"]


def segment_table(experiment, snapshot, text: str) -> dict:
    """The table of segment `text` ("hour_of_day", "field:plan"), from the cache when this
    snapshot's was computed already. SegmentError: an unknown segment, or one that cannot be
    computed for this experiment."""
    segment = parse(text)
    if snapshot is not None and segment.key in (stored := snapshot.result.segments):
        return stored[segment.key]
    key = f"results:segments:{experiment.pk}:{snapshot.pk if snapshot else 0}:{segment.key}"
    table = cache.get(key)
    if table is None:
        table = segment_tables(experiment, [segment])[0]
        cache.set(key, table, CACHE_SECONDS)
    return table


def segment_tables(experiment, segments: list[Segment]) -> list[dict]:
    """Several segments' tables (no cache): from one scan of the calls, or for a percentile
    goal one scan per segment (apps.results.quantile_segments)."""
    if reason := refusal(experiment):
        raise SegmentError(reason)
    variants = list(experiment.variants.order_by("-is_control", "key"))
    goal = metrics.for_agent(experiment.agent_id)[experiment.goal_kind]
    if goal.kind == "quantile":
        found = [quantile_cells(experiment, s, goal) for s in segments]
    else:
        found = _capped_all(segments, segment_cells(experiment, segments, _judge(experiment)))
    return [_table(experiment, s, c, variants) for s, c in zip(segments, found, strict=True)]


def _capped_all(segments: list[Segment], found: list[dict]) -> list[dict]:
    """Countries summed into at most MAX_VALUES and "Other" (sums can be merged afterwards)."""
    return [
        _capped(c) if s.kind == "caller_country" else c
        for s, c in zip(segments, found, strict=True)
    ]


def kept_tables(experiment, segments: list[Segment], arms: dict) -> dict[str, dict]:
    """The tables of the segments kept with the results, from the arms the results were
    aggregated into (`aggregation.aggregate(dimensions=…)`): no scan of their own."""
    if not segments:
        return {}
    variants = list(experiment.variants.order_by("-is_control", "key"))
    found = _capped_all(segments, cells(arms, experiment.goal_kind, segments))
    return {s.key: _table(experiment, s, c, variants) for s, c in zip(segments, found, strict=True)}


def _judge(experiment):
    if experiment.goal_kind != "custom":
        return None
    from apps.results.services import _judge  # the verdicts the main results count

    return _judge(experiment)


def _table(experiment, segment: Segment, cells: dict, variants: list) -> dict:
    values = sorted(cells, key=lambda v: _order(segment, v, cells[v]))
    goal = metrics.for_agent(experiment.agent_id)[experiment.goal_kind]
    control, others = variants[0], variants[1:]
    groups = [
        Group(
            _label(segment, v),
            _phases(cells[v].get(control.id)),
            [(o.name, _phases(cells[v].get(o.id))) for o in others],
        )
        for v in values
    ]
    results = compare_groups(groups, ALPHA, tuning=experiment.sequential_tuning)
    rows = [
        _row(experiment, goal, group, cells[v], variants, result, len(groups), v)
        for v, group, result in zip(values, groups, results, strict=True)
    ]
    return {
        "segment": segment.key,
        "title": segment.title,
        "goal": goal.key,
        "goal_label": goal.label,
        "direction": experiment.goal_direction,
        "unit": experiment.unit,
        "groups": len(groups),
        "time_zone": settings.TIME_ZONE if segment.kind in ("hour_of_day", "weekday") else None,
        "values": rows,
        **_warnings(goal, groups, results, others),
    }


def _capped(cells: dict) -> dict:
    """The MAX_VALUES countries with the most units; the others (and prefixes beyond the cap)
    together as "Other" (None)."""
    ranked = sorted(cells, key=lambda v: (-_units(cells[v]), v is None, v or ""))
    kept = {v: cells[v] for v in ranked[:MAX_VALUES] if v is not None}
    for value in ranked:
        if value in kept:
            continue
        other = kept.setdefault(None, {})
        for variant_id, cell in cells[value].items():
            mine = other.setdefault(variant_id, type(cell)())
            for phase, stats in (cell.phases or {}).items():
                mine.add(phase, 0, 0, stats)
            mine.units += cell.units
            mine.calls += cell.calls
    return kept


def _units(cells_of_value: dict) -> int:
    return sum(c.units for c in cells_of_value.values())


def _order(segment: Segment, value, cells_of_value):
    """Hours and days in their order; other values by units, "not reported" and "Other" last."""
    if segment.kind in ("hour_of_day", "weekday") and value:
        return (0, int(value), "")
    last = 2 if value is None else 1 if value in ("", countries.UNKNOWN) else 0
    return (last, -_units(cells_of_value), value or "")


def _label(segment: Segment, value) -> str:
    if value is None:
        return "All other values"  # never mistaken for a value that reads "Other"
    if segment.kind == "hour_of_day":
        return f"{value}:00\u2013{value}:59"
    if segment.kind == "weekday":
        return WEEKDAYS[int(value) - 1]
    if segment.kind == "caller_country":
        return countries.country_name(value)
    if segment.kind == "returning_caller":
        return "Returning callers" if value == "yes" else "First-time callers"
    if segment.kind == "ended_by" and value in EndedBy.values:
        return EndedBy(value).label
    return value or "Not reported"


def _phases(cell) -> dict:
    return cell.moments() if cell is not None else {}


def _row(experiment, goal, group, cells_of_value, variants, results, k, value) -> dict:
    arms = []
    for variant in variants:
        cell = cells_of_value.get(variant.id)
        arms.append(
            {
                "key": variant.key,
                "name": variant.name,
                "units": cell.units if cell else 0,
                "calls": cell.calls if cell else 0,
                "value": cell.shown() if cell else None,
            }
        )
    changes = [_change(goal, group.label, r, k, experiment) for r in results]
    return {"value": value, "label": group.label, "variants": arms, "changes": changes}


def _change(goal, label: str, result, k: int, experiment) -> dict:
    a = result.comparison.absolute
    if a.ok and goal.scale == "rate":
        # A share's change lies within ±1 (100 points): a small group's corrected range can
        # run past that, and "-340 points" would read as nonsense. Cutting the range to what
        # is possible keeps its coverage (the true change is inside the cut too).
        a = replace(a, ci_low=max(a.ci_low, -1.0), ci_high=min(a.ci_high, 1.0))
    change = {"name": result.name, "ok": a.ok}
    change |= {"absolute": a.value, "ci_low": a.ci_low, "ci_high": a.ci_high} if a.ok else {}
    change["sentence"] = _sentence(goal, label, result.name, a, k, experiment)
    return change


def _sentence(goal, label: str, name: str, a, k: int, experiment) -> str:
    """ "Morning: B converts 3.0 points better (range -1.0 to +7.0 points, corrected for 6
    groups)." The range is that of the improvement, as the verdict card writes it: variant -
    control when higher is better, control - variant when lower is (a faster p95: "+14 to
    +293 ms"). The table's numbers (`absolute`, `ci_low`, `ci_high`) stay variant - control,
    as in the results API."""
    # One group is the whole experiment: its range is the scorecard's, nothing to correct.
    corrected = f"corrected for {k} groups" if k > 1 else ""
    note = f" ({corrected})" if corrected else ""
    if not a.ok:
        return f"{label}: not enough {experiment.unit}s yet to compare {name}{note}."
    if a.value == 0:
        return f"{label}: {name} {goal.phrase} the same so far{note}."
    higher = experiment.goal_direction == "higher"
    better = (a.value > 0) == higher
    # The range of the improvement, as the verdict writes it: "+14 to +293 ms" faster.
    gain = (a.ci_low, a.ci_high) if higher else (-a.ci_high, -a.ci_low)
    low = format_change(gain[0], goal.key, signed=True, unit=False)
    high = format_change(gain[1], goal.key, signed=True)
    size = format_change(abs(a.value), goal.key)
    word = "better" if better else "worse"
    both = f"{low} to {high}, {corrected}" if corrected else f"{low} to {high}"
    return f"{label}: {name} {goal.phrase} {size} {word} (range {both})."


def _warnings(goal, groups, results, others) -> dict:
    labels = [g.label for g in groups]
    opposite, disagree = [], []
    for i, variant in enumerate(others):
        d = directions(labels, [r[i] for r in results])
        if d.opposite:
            opposite.append(
                f"{variant.name}'s {goal.label} is clearly higher for {_list(d.above)} and "
                f"clearly lower for {_list(d.below)}, even after the correction for "
                f"{len(groups)} groups. The overall result averages groups that point in "
                "opposite directions: find out why before applying it to everyone."
            )
        elif d.disagree:
            disagree.append(
                f"{variant.name}'s {goal.label} is higher in some groups and lower in others, "
                "but the groups' ranges do not show it clearly both ways: with this many "
                "groups, such differences are often chance."
            )
    return {"opposite": opposite, "disagree": disagree}


def _list(labels) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
