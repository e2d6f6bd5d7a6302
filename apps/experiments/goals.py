"""What an experiment judges its variants on: one goal, guardrails each with a threshold, and
secondary metrics. Any metric of apps.metrics.for_agent(agent) may be any of them; these
checks refuse the rest with a sentence a person can read. The services call them (pages and
the API share them), the forms and pages read the words.

Thresholds are percents read on the metric's own scale (apps.stats.scales.threshold_in_units):
3 means 3 percentage points of a rate, 0.03 points of sentiment on -1..1, and 3% of the
control's mean for anything measured in seconds, dollars, milliseconds or counts.
"""

import math

from django.core.exceptions import ValidationError

from apps.experiments.models import DEFAULT_THRESHOLD_PERCENT, Direction, GoalKind
from apps.stats.scales import metric_kind

DEFAULT_GUARDRAILS = ["transfer_rate"]
MAX_THRESHOLD_PERCENT = 100.0
JUDGE_ONLY = "The LLM judge's pass rate is scored only when it is the goal."
GROUPS = {  # how the goal list is grouped on the page, by the metric's kind
    "rate": "Share of calls",
    "ratio": "Share of a total",
    "mean": "Average per call",
    "quantile": "Slowest calls",
}


def _shown(value) -> str:
    """A value a person typed, safe to put in a sentence: printable and short."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= 40 else text[:39] + "…"


def goal_choices(known: dict) -> list:
    """Every metric as a goal, grouped by kind, the LLM judge's pass rate apart."""
    groups: dict[str, list] = {}
    for metric in known.values():
        group = "Judged by an LLM" if metric.key == GoalKind.CUSTOM else GROUPS[metric.kind]
        groups.setdefault(group, []).append((metric.key, metric.title))
    return list(groups.items())


def watch_choices(known: dict) -> list[tuple[str, str]]:
    """The metrics a guardrail or a secondary metric may be: all but the judge's."""
    return [(m.key, m.title) for m in known.values() if m.key != GoalKind.CUSTOM]


def clean_goal(known: dict, goal_kind, goal_direction, goal_criteria) -> tuple[str, str]:
    """(direction, criterion) of a goal; the direction defaults to the metric's own."""
    if not isinstance(goal_kind, str) or goal_kind not in known:
        raise ValidationError(
            {"goal_kind": f"Pick a goal: {', '.join(known)} (got “{_shown(goal_kind)}”)."}
        )
    direction = goal_direction or known[goal_kind].direction
    if direction not in Direction.values:
        raise ValidationError(
            {"goal_direction": "Say whether higher or lower is better: “higher” or “lower”."}
        )
    criteria = (goal_criteria or "").strip()
    if goal_kind != GoalKind.CUSTOM:
        return direction, ""
    if not criteria:
        raise ValidationError(
            {"goal_criteria": "Describe what a good call looks like; the judge reads this."}
        )
    return direction, criteria


def _refuse(message: str, field: str = "guardrails"):
    raise ValidationError({field: message})


def _threshold(metric: str, raw) -> float:
    if raw is None:
        return DEFAULT_THRESHOLD_PERCENT
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        _refuse(f"The threshold of {metric} must be a number of percent, e.g. 3.")
    # The range first: a JSON integer of 400 digits is a Python int that math.isfinite cannot
    # convert to a float (OverflowError, a 500); compared, it is simply out of range.
    if not 0 <= raw <= MAX_THRESHOLD_PERCENT or not math.isfinite(raw):
        _refuse(f"The threshold of {metric} must be between 0 and 100 percent, e.g. 3.")
    return float(raw)


def _guardrail(item) -> tuple[object, object]:
    """(metric, threshold) of one guardrail: a key alone, or {metric, threshold_percent}."""
    if isinstance(item, str):
        return item, None
    if not isinstance(item, dict) or "metric" not in item:
        _refuse("Give each guardrail as {“metric”: key, “threshold_percent”: 3}, or a key.")
    extra = set(item) - {"metric", "threshold_percent"}
    if extra:
        _refuse(f"A guardrail has only “metric” and “threshold_percent”, not “{_shown(extra)}”.")
    return item["metric"], item.get("threshold_percent")


def _usable(known: dict, goal: str, key, field: str, what: str) -> str:
    allowed = [k for k, _ in watch_choices(known)]
    if not isinstance(key, str) or (key not in allowed and key != goal):
        hint = f" {JUDGE_ONLY}" if key == GoalKind.CUSTOM else ""
        _refuse(f"Unknown {what} “{_shown(key)}”; choose from {', '.join(allowed)}.{hint}", field)
    if key == goal:
        _refuse(f"{known[key].title} is the goal; it cannot also be a {what}.", field)
    return key


def clean_guardrails(known: dict, goal: str, guardrails) -> list[dict]:
    """[{metric, threshold_percent}] in the order given; keys alone get the default 3%."""
    if guardrails is None:
        guardrails = [g for g in DEFAULT_GUARDRAILS if g in known and g != goal]
    if not isinstance(guardrails, list | tuple):
        _refuse("Guardrails are a list of metrics, each with its threshold.")
    if len(guardrails) > len(known):
        _refuse(f"At most {len(known)} guardrails: one per metric (got {len(guardrails):,}).")
    cleaned: dict[str, float] = {}
    for item in guardrails:
        raw, threshold = _guardrail(item)
        key = _usable(known, goal, raw, "guardrails", "guardrail")
        if key in cleaned:
            _refuse(f"{known[key].title} is listed twice as a guardrail; keep one.")
        cleaned[key] = _threshold(key, threshold)
    return [{"metric": k, "threshold_percent": t} for k, t in cleaned.items()]


def clean_secondary(known: dict, goal: str, guardrails: list[dict], secondary) -> list[str]:
    """Secondary metric keys in the order given: not the goal, not a guardrail, once each."""
    if secondary is None:
        return []
    field = "secondary"
    if not isinstance(secondary, list | tuple):
        _refuse("Secondary metrics are a list of metric keys.", field)
    if len(secondary) > len(known):
        _refuse(f"At most {len(known)} secondary metrics (got {len(secondary):,}).", field)
    guarded = {g["metric"] for g in guardrails}
    cleaned: list[str] = []
    for raw in secondary:
        key = _usable(known, goal, raw, field, "secondary metric")
        if key in guarded:
            _refuse(f"{known[key].title} is a guardrail; it cannot also be secondary.", field)
        if key in cleaned:
            _refuse(f"{known[key].title} is listed twice as a secondary metric; keep one.", field)
        cleaned.append(key)
    return cleaned


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def threshold_words(metric, percent: float) -> str:
    """What a guardrail's threshold means, in the metric's words: "more than 3 percentage
    points worse", "more than 0.03 points worse on its -1 to 1 scale", "more than 3% worse
    than the control's cost per call"."""
    kind = metric_kind(metric.key)
    if kind == "rate":
        unit = "point" if percent == 1 else "points"
        return f"more than {_number(percent)} percentage {unit} worse"
    if kind == "score":
        return f"more than {_number(percent / 100)} points worse on its -1 to 1 scale"
    return f"more than {_number(percent)}% worse than the control's {metric.label}"
