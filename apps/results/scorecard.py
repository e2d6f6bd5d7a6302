"""The scorecard of the results panel: one row per metric, the goal first, then each
guardrail, then each secondary metric, with each variant's change and always-valid range on
the metric's own scale (apps.stats.scales), placed on one axis per row for a bar drawn
against zero and the guardrail's limit."""

from apps.stats.scales import format_change


def range_words(change: dict, metric: str) -> str:
    low = format_change(change["ci_low"], metric, signed=True, unit=False)
    return f"{low} to {format_change(change['ci_high'], metric, signed=True)}"


def scorecard(experiment, data: dict) -> list[dict]:
    """One row per metric, the goal first, then each guardrail: the control's value and, per
    variant, its value, change, always-valid range and a state (better, worse, not yet; for
    a guardrail: worse, shown safe, not yet), with the bar's geometry on a 0..100 axis."""
    goal = data["goal"]
    control = next((v for v in data["variants"] if v.get("is_control")), None)
    rows = [_goal_row(experiment, data, goal, control)]
    rows += [_guardrail_row(data, g) for g in data.get("guardrails", [])]
    rows += [_secondary_row(data, m) for m in data.get("metrics", []) if m["role"] == "secondary"]
    return rows


def _secondary_row(data, metric: dict) -> dict:
    """A secondary metric: its Benjamini-Hochberg corrected ranges; it never decides."""
    names = {v["key"]: v["name"] for v in data["variants"]}
    states = {"better": "better", "worse": "worse"}
    variants = [
        {"key": c["key"], "name": names.get(c["key"], c["key"]), "mean": c["value"]}
        | _cell({**c["change"], "ok": True}, metric["key"])
        | {"state": states.get(c["verdict"], "not_yet")}
        for c in metric["variants"]
        if c["change"] is not None
    ]
    control = metric["variants"][0] if metric["variants"] else {}
    return _with_bars(
        {
            "metric": metric["key"],
            "label": metric["name"],
            "kind": "secondary",
            "direction": metric["direction"],
            "control_mean": control.get("value"),
            "threshold": None,
            "variants": variants,
        }
    )


def _goal_row(experiment, data, goal, control) -> dict:
    direction = data.get("direction") or "higher"
    variants = []
    for v in data["variants"]:
        if v.get("is_control"):
            continue
        lift = v.get("lift") or {}
        variants.append(
            {"key": v["key"], "name": v["name"], "mean": v["mean"], **_cell(lift, goal)}
            | {"state": _goal_state(lift, direction)}
        )
    return _with_bars(
        {
            "metric": goal,
            "label": experiment.goal_label,
            "kind": "goal",
            "direction": direction,
            "control_mean": control["mean"] if control else None,
            "threshold": None,
            "variants": variants,
        }
    )


def _goal_state(lift: dict, direction: str) -> str:
    if not lift.get("ok") or lift.get("ci_low") is None or lift.get("ci_high") is None:
        return "not_yet"
    low, high = lift["ci_low"], lift["ci_high"]
    if low > 0 or high < 0:
        return "better" if (low > 0) == (direction == "higher") else "worse"
    return "not_yet"


def _guardrail_row(data, g) -> dict:
    names = {v["key"]: v["name"] for v in data["variants"]}
    variants = []
    for r in g["variants"]:
        state = "worse" if r["key"] in g["worse"] else "safe" if r.get("shown_safe") else "not_yet"
        variants.append(
            {"key": r["key"], "name": names.get(r["key"], r["key"]), "mean": r["mean"]}
            | _cell(r, g["metric"])
            | {"state": state}
        )
    threshold = g.get("threshold")
    return _with_bars(
        {
            "metric": g["metric"],
            "label": g["label"][:1].upper() + g["label"][1:],
            "kind": "guardrail",
            "direction": g["direction"],
            "control_mean": g.get("control_mean"),
            # the limit lies on the worse side of zero
            "threshold": None
            if threshold is None
            else (-threshold if g["direction"] == "higher" else threshold),
            "variants": variants,
        }
    )


def _cell(change: dict, metric: str) -> dict:
    ok = bool(change.get("ok")) and None not in (
        change.get("absolute"),
        change.get("ci_low"),
        change.get("ci_high"),
    )
    return {
        "ok": ok,
        "change": format_change(change["absolute"], metric, signed=True) if ok else "",
        "relative": change.get("relative") if ok else None,
        "range": range_words(change, metric) if ok else "",
        "absolute": change.get("absolute") if ok else None,
        "low": change.get("ci_low") if ok else None,
        "high": change.get("ci_high") if ok else None,
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
