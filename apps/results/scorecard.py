"""The scorecard of the results panel: one row per metric, the goal first, then each
guardrail, then each secondary metric, with each variant's change and always-valid range on
the metric's own scale (apps.stats.scales), placed on one axis per row for a bar drawn
against zero and the guardrail's limit."""

from apps.results.result import (
    Change,
    GuardrailChange,
    GuardrailResult,
    MetricChange,
    MetricRow,
    Result,
)
from apps.stats.scales import format_change


def range_words(change: Change | MetricChange | GuardrailChange, metric: str) -> str:
    low = format_change(change.ci_low, metric, signed=True, unit=False)
    return f"{low} to {format_change(change.ci_high, metric, signed=True)}"


def scorecard(experiment, result: Result) -> list[dict]:
    """One row per metric, the goal first, then each guardrail: the control's value and, per
    variant, its value, change, always-valid range and a state (better, worse, not yet; for
    a guardrail: worse, shown safe, not yet), with the bar's geometry on a 0..100 axis."""
    rows = [_goal_row(experiment, result)]
    rows += [_guardrail_row(result, g) for g in result.guardrails]
    rows += [_secondary_row(result, m) for m in result.metric_rows("secondary")]
    return rows


def _secondary_row(result: Result, metric: MetricRow) -> dict:
    """A secondary metric: its Benjamini-Hochberg corrected ranges; it never decides."""
    states = {"better": "better", "worse": "worse"}
    variants = [
        {"key": c.key, "name": result.name_of(c.key), "mean": c.value}
        | _cell(c.change, metric.key, ok=True)
        | {"state": states.get(c.verdict, "not_yet")}
        for c in metric.variants
        if c.change is not None
    ]
    control = metric.variants[0] if metric.variants else None
    return _with_bars(
        {
            "metric": metric.key,
            "label": metric.name,
            "kind": "secondary",
            "direction": metric.direction,
            "control_mean": control.value if control else None,
            "threshold": None,
            "variants": variants,
        }
    )


def _goal_row(experiment, result: Result) -> dict:
    direction = result.direction or "higher"
    variants = [
        {"key": v.key, "name": v.name, "mean": v.mean, **_cell(v.lift, result.goal)}
        | {"state": _goal_state(v.lift, direction)}
        for v in result.others
    ]
    control = result.control
    return _with_bars(
        {
            "metric": result.goal,
            "label": experiment.goal_label,
            "kind": "goal",
            "direction": direction,
            "control_mean": control.mean if control else None,
            "threshold": None,
            "variants": variants,
        }
    )


def _goal_state(lift: Change | None, direction: str) -> str:
    if lift is None or not lift.ok or lift.ci_low is None or lift.ci_high is None:
        return "not_yet"
    low, high = lift.ci_low, lift.ci_high
    if low > 0 or high < 0:
        return "better" if (low > 0) == (direction == "higher") else "worse"
    return "not_yet"


def _guardrail_row(result: Result, g: GuardrailResult) -> dict:
    variants = []
    for r in g.variants:
        state = "worse" if r.key in g.worse else "safe" if r.shown_safe else "not_yet"
        variants.append(
            {"key": r.key, "name": result.name_of(r.key), "mean": r.mean}
            | _cell(r, g.metric, r.ok)
            | {"state": state}
        )
    threshold = g.threshold
    return _with_bars(
        {
            "metric": g.metric,
            "label": g.label[:1].upper() + g.label[1:],
            "kind": "guardrail",
            "direction": g.direction,
            "control_mean": g.control_mean,
            # the limit lies on the worse side of zero
            "threshold": None
            if threshold is None
            else (-threshold if g.direction == "higher" else threshold),
            "variants": variants,
        }
    )


def _cell(change: Change | MetricChange | GuardrailChange | None, metric: str, ok=None) -> dict:
    """The change as the row shows it; `ok`: whether it was estimated (a Change says so
    itself; a secondary metric's change exists only when it was)."""
    if change is None:
        ok = False
    elif ok is None:
        ok = change.ok
    ok = bool(ok) and None not in (change.absolute, change.ci_low, change.ci_high)
    return {
        "ok": ok,
        "change": format_change(change.absolute, metric, signed=True) if ok else "",
        "relative": change.relative if ok else None,
        "range": range_words(change, metric) if ok else "",
        "absolute": change.absolute if ok else None,
        "low": change.ci_low if ok else None,
        "high": change.ci_high if ok else None,
    }


def _with_bars(row: dict) -> dict:
    """Places each range, zero and the limit on one axis for the row, symmetric about zero
    so better and worse get the same room, in 0..100 units an SVG viewBox draws."""
    ends = [abs(x) for v in row["variants"] if v["ok"] for x in (v["low"], v["high"])]
    if row["threshold"] is not None:
        ends.append(abs(row["threshold"]))
    span = max(ends, default=0) * 1.15 or 1.0

    def at(x: float) -> float:
        return round(50 + 50 * max(-1.0, min(1.0, x / span)), 2)

    for v in row["variants"]:
        if v["ok"]:
            v["bar"] = {
                "x": at(v["low"]),
                "width": max(0.6, round(at(v["high"]) - at(v["low"]), 2)),
                "point": round(at(v["absolute"]) - 0.5, 2),  # a 1-unit tick centred on it
            }
    # a 0.4-unit line centred on the limit
    row["limit_at"] = None if row["threshold"] is None else round(at(row["threshold"]) - 0.2, 2)
    row["better_side"] = "right" if row["direction"] == "higher" else "left"
    return row
