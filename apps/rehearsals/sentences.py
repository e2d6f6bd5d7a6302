"""The gate in plain words: a title a manager can act on and one sentence of why.

Shares are 0..1 in the results; people read points (0.05 = 5 points) and percentages.
"""

from dataclasses import dataclass

from apps.rehearsals.models import Evaluation, Status
from apps.rehearsals.outcomes import EvaluationResults

MINUS = "\N{MINUS SIGN}"  # read as "minus" by screen readers, unlike a hyphen


@dataclass(frozen=True)
class GateWords:
    state: str  # passed | failed | running: the CSS class and the badge
    title: str
    why: str


def points(share: float | None, *, sign: bool = True) -> str:
    """0.05 -> "+5", -0.125 -> MINUS + "12.5"; None -> "—"."""
    if share is None:
        return "—"
    value = round(share * 100, 1)
    text = f"{abs(value):g}"
    if not sign or value == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100):g}%"


def gate_words(evaluation: Evaluation, results: EvaluationResults | None) -> GateWords:
    margin = points(evaluation.margin, sign=False)
    if evaluation.status in (Status.QUEUED, Status.RUNNING):
        return GateWords(
            "running",
            "Still running: the gate is decided when every conversation has been played.",
            "This page updates by itself.",
        )
    if evaluation.status != Status.DONE or results is None:
        return GateWords(
            "failed",
            "Failed: the evaluation did not finish, so the variant is not let through.",
            evaluation.error or "It stopped before every conversation was played.",
        )
    interval = results.interval
    if interval.lower is None:
        return GateWords(
            "failed",
            f"Failed: only {interval.scenarios} scenario{'s' * (interval.scenarios != 1)} "
            "could be compared on both sides, too few to tell.",
            "The gate needs at least two scenarios with checks that were played on both "
            "sides; it does not let a variant through on no evidence.",
        )
    said = _difference(results)
    if results.gate == "passed":
        return GateWords(
            "passed",
            f"Passed: the variant did as well as the control within {margin} points.",
            f"{said} Even at the low end it is at most {margin} points worse.",
        )
    return GateWords(
        "failed",
        f"Failed: the variant may do worse than the control by more than {margin} points.",
        f"{said} The low end is below {MINUS}{margin} points.",
    )


def shown_range(results: EvaluationResults) -> tuple[float | None, float | None]:
    """The interval as people read it: cut to -1..+1 (-100 to +100 points), the only values
    a difference of two pass shares can take. With few scenarios the t interval reaches
    past them; cutting it there keeps at least its coverage and changes no gate (the margin
    is inside). The stored results keep the interval as computed."""
    interval = results.interval
    low = None if interval.lower is None else max(interval.lower, -1.0)
    high = None if interval.upper is None else min(interval.upper, 1.0)
    return low, high


def _difference(results: EvaluationResults) -> str:
    interval = results.interval
    low, high = shown_range(results)
    return (
        f"Across {interval.scenarios} scenarios the variant passed "
        f"{percent(results.overall_rate('variant'))} of its plays and the control "
        f"{percent(results.overall_rate('control'))}: a difference of "
        f"{points(interval.mean)} points (95% range {points(low)} to {points(high)})."
    )


def figures(evaluation: Evaluation, results: EvaluationResults | None) -> dict[str, str]:
    """The numbers of the page, written for people: overall pass rates, the difference and
    its range in points, the margin."""
    interval = results.interval if results else None
    low, high = shown_range(results) if results else (None, None)
    return {
        "control": percent(results.overall_rate("control")) if results else "—",
        "variant": percent(results.overall_rate("variant")) if results else "—",
        "difference": points(interval.mean if interval else None),
        "low": points(low),
        "high": points(high),
        "margin": points(evaluation.margin, sign=False),
    }
