"""Each metric on its own scale: how a change is measured, written and thresholded.

Why: a relative lift divides by the control's mean, which is fine for a rate or a duration
(always >= 0) but meaningless for sentiment on -1..1, whose mean can be 0.02 (so +0.04 reads
"200% better") or negative (so "higher" flips sign). So every verdict is made on the
absolute change, variant - control, in the metric's own unit:

========  ===========================================  ==================  ===============
kind      metrics                                      change written in   relative beside
========  ===========================================  ==================  ===============
rate      conversion, custom, transfer & completion    percentage points   yes
score     sentiment (-1..1)                            points              no
seconds   duration                                     seconds             yes
========  ===========================================  ==================  ===============

A guardrail threshold t (the experiment's ``guardrail_threshold``, default 0.03) is read on
the same scale, see :func:`threshold_in_units`: for a rate, t percentage points as a
fraction (0.03 = 3 points); for sentiment, t points on -1..1 (0.03 points); for a duration,
a share of the control's mean (0.03 = 3%, about 5 seconds on a 3-minute call). Why not a
share of a rate: "Safe to apply" needs the always-valid range to exclude every change worse
than t, and 3% of a 5% transfer rate is 0.15 points, which no experiment can show (about
400,000 callers per variant); 3 points can be shown at the size the planner asks for. Why
0.03 points for sentiment: callers' sentiment varies by about 0.4-0.5 per call, so 0.03
points is a small but real shift (1.5% of the scale's width) that a few thousand calls per
variant can rule out; and it keeps the stored default meaningful for every metric.

Other scales, for how the agent ran (apps/metrics): ``ms`` (response times), ``usd`` (cost)
and ``count`` (tokens, interruptions per call): changes in their unit with the relative change
beside; a threshold is a share of the control's mean, as for durations.
"""

from __future__ import annotations

SCALES = ("rate", "score", "seconds", "ms", "usd", "count")
# Each metric's scale, declared by the metric registry (apps/metrics) for every metric it knows.
KINDS: dict[str, str] = {
    "conversion": "rate",
    "custom": "rate",
    "transfer_rate": "rate",
    "completion_rate": "rate",
    "sentiment": "score",
    "duration": "seconds",
}


def declare(metric: str, scale: str) -> None:
    """Say on which scale a metric's change is written (the registry does, once per metric)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    KINDS[metric] = scale


def metric_kind(metric: str | None) -> str:
    """The scale of a metric name (:data:`SCALES`); unknown names count as rates."""
    return KINDS.get(metric or "", "rate")


def shows_relative(metric: str | None) -> bool:
    """True when a relative change means something for the metric (its mean is >= 0)."""
    return metric_kind(metric) != "score"


def threshold_in_units(metric: str, threshold: float, control_mean: float) -> float:
    """A guardrail threshold as an absolute change in the metric's unit.

    Method (module docstring): rates take ``threshold`` as a fraction (0.03 = 3 percentage
    points), sentiment as points on its -1..1 scale, durations as a share of the control's
    mean, |control_mean| * threshold. Assumes a non-negative threshold; the result never
    depends on the sign of the control's mean.
    """
    if metric_kind(metric) in ("rate", "score"):
        return threshold
    return abs(control_mean) * threshold


def _number(value: float) -> str:
    size = abs(value)
    if size >= 9.95:
        return f"{size:,.0f}"
    if size >= 0.995:
        return f"{size:.1f}".removesuffix(".0")
    if size >= 0.00995:
        return f"{size:.2f}"
    return f"{size:.3f}" if size >= 0.0005 else "0"


def format_change(value: float, metric: str | None, signed: bool = False, unit: bool = True):
    """An absolute change for people: 0.021 -> "2.1 points" (rates: percentage points),
    sentiment 0.04 -> "0.04 points", duration 12.4 -> "12 seconds"; ``signed`` adds + or -.

    Method: rates are multiplied by 100 (fractions -> percentage points); numbers get
    whole units from 10 up, one decimal from 1, two below.
    """
    kind = metric_kind(metric)
    shown = value * 100.0 if kind == "rate" else value
    text = _number(shown) if kind != "usd" else _dollars(shown)
    if signed and text not in ("0", "$0"):
        text = ("+" if shown > 0 else "-") + text
    if not unit or kind == "usd":
        return text
    one = text in ("1", "+1", "-1")
    if kind == "seconds":
        return f"{text} second" if one else f"{text} seconds"
    if kind == "ms":
        return f"{text} ms"
    if kind == "count":
        return f"{text} per call"
    return f"{text} point" if one else f"{text} points"


def _dollars(value: float) -> str:
    size = abs(value)
    if size >= 0.995:
        return f"${size:,.2f}"
    if size >= 0.0000995:
        return f"${size:.4f}".rstrip("0").rstrip(".") if size < 0.01 else f"${size:.3f}"
    return "$0"


def change_name(metric: str | None) -> str:
    """How the change is named in a sentence: "percentage points", "points", "seconds"."""
    return {
        "rate": "percentage points",
        "score": "points",
        "seconds": "seconds",
        "ms": "milliseconds",
        "usd": "dollars",
        "count": "per call",
    }[metric_kind(metric)]
