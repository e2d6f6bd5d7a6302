"""What the decision screen says in its verdict card, read from a snapshot.

The card puts the stored verdict in one sentence, says why (or why not yet) from the
snapshot's numbers in the experiment's unit (callers or calls), and offers the next step to
whoever may take it. Once the experiment stopped it speaks in the past tense and says what is
live now (status, winner and the agent's current prompt). The scorecard is in
apps.results.scorecard.
"""

from apps.experiments.models import Status
from apps.experiments.templatetags.switchboard import as_of
from apps.results.result import Change, Result, VariantResult
from apps.results.scorecard import range_words
from apps.stats.scales import format_change

TITLES = {
    "winning": "Winner found",
    "guardrail_pending": "Better, but wait for the guardrails",
    "guardrail": "A guardrail got worse",
    "losing": "The variants do worse",
    "no_difference_yet": "No clear difference yet",
    "inconclusive": "No difference worth applying",
    "srm": "Traffic split problem",
    "changed": "The difference changed over time",
}
APPLIABLE = {"winning", "guardrail_pending"}


def unit_word(experiment, count: int | None = 2) -> str:
    word = "caller" if experiment.unit == "caller" else "call"
    return word if count == 1 else f"{word}s"


def in_unit(sentence: str, experiment) -> str:
    """The stored verdict counts "calls per version"; in caller mode those are callers."""
    if experiment.unit == "caller":
        sentence = sentence.replace(" more calls per version", " more callers per version")
    return sentence


def _improvement(lift: Change, direction: str) -> float:
    return lift.absolute if direction == "higher" else -lift.absolute


def focus_variant(result: Result) -> VariantResult | None:
    """The variant the card speaks of: the winner, else the one whose change looks best."""
    others = result.others
    if result.best:
        return next((v for v in others if v.key == result.best), None)
    compared = [v for v in others if v.lift and v.lift.ok and v.lift.absolute is not None]
    if compared:
        return max(compared, key=lambda v: _improvement(v.lift, result.direction))
    return others[0] if others else None


def _why(experiment, result: Result, variant: VariantResult | None, past: bool) -> str:
    code, goal = result.verdict.code, result.goal
    if code in ("srm", "changed", "inconclusive") or variant is None:
        return ""
    lift = variant.lift or Change()
    was, still = ("was", "still included") if past else ("is", "still includes")
    known = experiment.metrics
    label = known[goal].label if goal in known else goal
    if code == "guardrail":
        return _guardrail_why(result, past)
    if not lift.ok:
        need = _need(result)
        more = f"; about {need:,} more {unit_word(experiment, need)} per variant" if need else ""
        return f"Not enough {unit_word(experiment)} yet to compare {variant.name}{more}."
    name = variant.name
    if code == "winning":
        return (
            f"{name}'s always-valid range {was} clear of “no change”, and every guardrail "
            f"{was} shown to be no worse than its limit."
        )
    if code == "losing":
        return f"{name}'s always-valid range {was} clear of “no change”, on the worse side."
    if code == "guardrail_pending":
        limits = _unproven(result, variant.key)
        verb = ("were" if past else "are") if len(limits) > 1 else was
        their = "their limits" if len(limits) > 1 else "its limit"
        return (
            f"{name}'s {label} range {was} clear of “no change”, but its "
            f"{' and '.join(limits)} {verb} not yet shown to be no worse than {their}."
        )
    looks = "looked" if past else "looks"
    better = _improvement(lift, result.direction) > 0
    need = _need(result)
    more = ""
    if need and not past:
        more = f"; about {need:,} more {unit_word(experiment, need)} per variant are needed"
        days = result.plan.days_left
        if days and experiment.status == Status.RUNNING:
            more += f" (about {days:,} day{'s' if days != 1 else ''} at the current volume)"
    return (
        f"{variant.name} {looks} {'better' if better else 'worse'} ({lift_short(lift, goal)}), "
        f"but the always-valid range {still} no change ({range_words(lift, goal)}){more}."
    )


def lift_short(lift: Change, metric: str) -> str:
    return format_change(lift.absolute, metric, signed=True)


def _need(result: Result) -> int | None:
    needs = [
        v.verdict.calls_still_needed
        for v in result.variants
        if v.verdict and v.verdict.calls_still_needed
    ]
    return max(needs) if needs else None


def _unproven(result: Result, key: str) -> list[str]:
    return [g.label for g in result.guardrails if key in (g.unproven or ())]


def _guardrail_why(result: Result, past: bool) -> str:
    for g in result.guardrails:
        row = next((r for r in g.variants if r.key in g.worse), None)
        if row is not None:
            was = "was" if past else "is"
            return (
                f"{result.name_of(row.key)}'s {g.label} {was} {row.change_text} than the "
                "control's: significantly worse, so applying it is blocked."
            )
    return ""


def live_now(experiment) -> str:
    """What callers get now, once the experiment has stopped."""
    agent = experiment.agent
    current = agent.current_version
    control = next((v for v in experiment.variants.all() if v.is_control), None)
    back = control is not None and control.prompt_version_id == agent.current_version_id
    if experiment.status == Status.STOPPED:
        since = "the control's, as before the test" if back else "it changed after the test"
        return (
            f"Live now: every call gets {agent.name}'s current prompt"
            f"{f' ({current.label})' if current else ''}: {since}."
        )
    if experiment.status != Status.APPLIED or experiment.winner is None:
        return ""
    winner = experiment.winner
    if agent.current_version_id == winner.prompt_version_id:
        return f"Live now: {winner.name}'s prompt ({current.label}) is {agent.name}'s prompt."
    how = "was rolled back to the control's prompt" if back else "has changed since"
    return (
        f"Live now: {agent.name}'s prompt {how}; it is {current.label}, "
        f"not {winner.name}'s ({winner.prompt_version.label})."
    )


def decision_card(experiment, result: Result, user, pending=None) -> dict:
    """Title, sentence, why, what is live now and the next step for `user`."""
    code = result.verdict.code
    past = experiment.status in (Status.STOPPED, Status.APPLIED)
    variant = focus_variant(result)
    why = _why(experiment, result, variant, past)
    sentence = in_unit(as_of(result.verdict.sentence, experiment), experiment)
    card = {
        "code": code,
        "past": past,
        "title": TITLES.get(code, code),
        "when": _when(experiment),
        # Not yet: the why says it all, with the same numbers (and the stored sentence's
        # "more per version" would repeat it).
        "sentence": "" if code == "no_difference_yet" and why else sentence,
        "why": why,
        "live": live_now(experiment),
        "variant": variant,
        "pending": pending,
        "step": _step(experiment, code, variant, user, pending, result),
    }
    return card


def _when(experiment) -> str:
    """The card's past-tense lead: the verdict was the one at the stop."""
    if experiment.status == Status.APPLIED:
        return "The verdict when the test stopped, before the apply:"
    if experiment.status == Status.STOPPED:
        return "The verdict when the test stopped:"
    return ""


def _not_worse(result: Result) -> list[str]:
    """The variants no guardrail found worse."""
    worse = {key for g in result.guardrails for key in g.worse}
    return [v.name for v in result.others if v.key not in worse]


def _step(experiment, code, variant, user, pending, result: Result) -> dict:
    """The next step: {kind, text}; kind is apply, ask, stop or "" (words only)."""
    status = experiment.status
    can_apply = getattr(user, "can_apply", False)
    can_operate = getattr(user, "can_operate", False)
    appliable = code in APPLIABLE and variant is not None and not variant.is_control
    name = variant.name if variant else ""
    if status == Status.APPLIED:
        return {"kind": "", "text": ""}
    if appliable and status == Status.STOPPED and can_apply:
        reason = ""
        if code != "winning":
            reason = " You write why, since its guardrails were not shown safe."
        return {"kind": "apply", "text": f"Apply {name} to {experiment.agent.name}.{reason}"}
    if appliable and status == Status.RUNNING and can_apply:
        return {
            "kind": "stop",
            "text": f"Stop the test to freeze the results; then apply {name} from here.",
        }
    if appliable and can_operate:
        if pending is not None:
            return {"kind": "", "text": "The request waits for a manager."}
        return {"kind": "ask", "text": f"Only a manager can apply {name}: ask one."}
    if appliable:
        return {"kind": "", "text": f"A manager can apply {name}."}
    if status == Status.RUNNING:
        others = _not_worse(result)
        if code == "guardrail" and others:
            return {
                "kind": "",
                "text": f"Keep the test running for {' and '.join(others)}; never apply "
                "a variant whose guardrail got worse.",
            }
        if code in ("losing", "guardrail", "inconclusive"):
            if can_operate:
                return {"kind": "stop", "text": "Stop the test and keep the current prompt."}
            return {"kind": "", "text": "An operator can stop the test; keep the current prompt."}
        if code == "changed":
            return {
                "kind": "",
                "text": "Read the chart by call date below before deciding; a new test may be "
                "needed.",
            }
        if code == "srm":
            return {
                "kind": "",
                "text": "Check that routers ask the assignment endpoint for every call.",
            }
        return {"kind": "", "text": "Keep the test running; this card updates by itself."}
    return {"kind": "", "text": ""}
