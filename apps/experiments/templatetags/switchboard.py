import math
import re

from django import template

import apps.metrics  # noqa: F401  (declares every metric's scale)
from apps.stats.scales import format_change, metric_kind

register = template.Library()


@register.filter
def get_item(mapping, key):
    """{{ weights|get_item:variant.key }}"""
    return mapping.get(key, "") if mapping else ""


@register.filter
def percent(value, digits=1):
    """0.1234 -> "12.3%"; None -> "—"."""
    if value is None:
        return "—"
    return f"{value * 100:,.{int(digits)}f}%"


@register.filter
def signed_percent(value, digits=1):
    """0.1234 -> "+12.3%", -0.05 -> "-5.0%"; None -> "—"."""
    if value is None:
        return "—"
    text = f"{abs(value) * 100:,.{int(digits)}f}%"
    return ("+" if value > 0 else "-" if value < 0 else "") + text


@register.filter
def metric(value, goal):
    """A goal metric for people: rates as percents, sentiment as +0.32, durations as 1m 35s."""
    if value is None or not math.isfinite(value):  # a value stored before the checks existed
        return "—"
    scale = metric_kind(goal)  # declared once per metric in apps/metrics
    if scale == "rate":
        return percent(value)
    if scale == "score":
        return f"{value:+.2f}"
    if scale == "ms":
        return f"{value:,.0f} ms"
    if scale == "usd":
        return format_change(value, goal)
    if scale == "count":
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


@register.filter
def chance(value):
    """Chance to beat control: 0.97 -> "97%", extremes shown as "> 99.9%" / "< 0.1%"."""
    if value is None:
        return "—"
    if value > 0.999:
        return "> 99.9%"
    if value < 0.001:
        return "< 0.1%"
    return f"{value * 100:.0f}%"


@register.filter
def pvalue(value):
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


VERDICT_LABELS = {
    "winning": "Winning",
    "losing": "Losing",
    "no_difference_yet": "Not yet",
    "inconclusive": "Inconclusive",
    "srm": "Split problem",
    "guardrail": "Guardrail worse",
    "guardrail_pending": "Wait",
    "changed": "Changed over time",
}


# A badge of a stopped (or applied) experiment speaks of when it stopped: "Not yet" would
# promise a verdict that is no longer coming.
VERDICT_LABELS_AFTER_STOP = {
    "no_difference_yet": "Unclear when stopped",
    "guardrail_pending": "Not shown safe",
    "winning": "Won",
}


@register.filter
def verdict_label(code, experiment=None):
    """A verdict code as a badge reads: "no_difference_yet" -> "Not yet"; given the
    experiment, in the past tense once it stopped ("Unclear when stopped")."""
    stopped = getattr(experiment, "status", "") in ("stopped", "applied")
    if stopped and code in VERDICT_LABELS_AFTER_STOP:
        return VERDICT_LABELS_AFTER_STOP[code]
    return VERDICT_LABELS.get(code, str(code or "").replace("_", " ").capitalize())


# Advice in a stored verdict that stops being true once the experiment stops, and what it
# says then (None: nothing). "Safe to apply." stays advice until the winner is applied.
AFTER_STOP = (
    (
        re.compile(r" Keep the test running before applying (it|one)\."),
        " The test stopped before that was shown: applying needs a written reason.",
    ),
    (re.compile(r" About [\d,]+ more calls per version are needed\."), ""),
    (re.compile(r" Keep the test running\."), " The test stopped before it was clear."),
)


@register.filter
def as_of(sentence, experiment):
    """A stored verdict sentence as it is true now: a stopped test is not kept running, and
    once a winner is applied, "Safe to apply." is done, not advice."""
    status = getattr(experiment, "status", "")
    sentence = str(sentence)
    if status in ("stopped", "applied"):
        for advice, now in AFTER_STOP:
            sentence = advice.sub(now, sentence)
    if status == "applied":
        sentence = sentence.replace(" Safe to apply.", "")
    return sentence


@register.filter
def guardrail_rows(experiment) -> list[dict]:
    """Each guardrail's title and what its threshold means in the metric's words."""
    from apps.experiments.goals import threshold_words

    known = experiment.metrics
    return [
        {"title": known[key].title, "words": threshold_words(known[key], percent)}
        for key, percent in experiment.guardrail_thresholds.items()
        if key in known
    ]


@register.filter
def effect_in_points(experiment) -> bool:
    """True when the goal's smallest change is planned in points (a score on -1..1)."""
    return metric_kind(experiment.goal_kind) == "score"


@register.filter
def judged_goal(experiment) -> bool:
    """True when an LLM judge scores the goal (it has a criterion and a judge section)."""
    from apps.experiments.models import GoalKind

    return experiment.goal_kind == GoalKind.CUSTOM


@register.filter
def ramp_lines(experiment) -> list[str]:
    """Where a ramping experiment's variants are, a sentence each (services/ramp.py)."""
    from apps.experiments.services.ramp import ramp_lines as lines

    return lines(experiment)
