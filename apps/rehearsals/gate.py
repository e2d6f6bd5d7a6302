"""The start gate: may this experiment meet real callers, given its variants' rehearsals?

Each non-control variant needs a current evaluation against the control (same prompts and
effective configurations: apps.rehearsals.services.evaluation_freshness) whose paired
interval rules out a drop larger than the agent's margin (apps.stats.paired.gate, read with
`Agent.rehearsal_margin`, not the margin the evaluation was started with). An agent without
scenarios is not gated. A manager's override (GateOverride) lets a refused experiment start
while it compares exactly what the override was given for.

variant_rehearsals(experiment)  -> [VariantRehearsal]   (empty: the agent has no scenarios)
gate_fingerprint(experiment)    -> SHA-256 of every compared prompt and configuration
gate_override_current(experiment) -> GateOverride | None
gate_check(*, experiment, variants)   the start check experiments calls (registered in ready)
"""

import hashlib
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from apps.experiments.models import Experiment, Variant
from apps.rehearsals.models import Evaluation, GateOverride, Status
from apps.rehearsals.outcomes import EvaluationResults
from apps.rehearsals.services.evaluations import evaluation_freshness
from apps.stats.paired import gate

MISSING, RUNNING, PASSED, FAILED, STALE = "missing", "running", "passed", "failed", "stale"
ASK = "Fix the prompt, or ask a manager to override."


@dataclass(frozen=True)
class VariantRehearsal:
    variant: Variant
    state: str  # missing | running | passed | failed | stale
    evaluation: Evaluation | None
    sentence: str

    @property
    def blocks(self) -> bool:
        return self.state != PASSED


def effective_config(experiment: Experiment, variant: Variant) -> dict:
    """What the variant runs with: the agent's configuration with the variant's overrides."""
    return {**(experiment.agent.config or {}), **(variant.config_overrides or {})}


def _compared(experiment: Experiment, variant: Variant, control: Variant) -> dict:
    return {
        "agent": experiment.agent,
        "variant_sha256": variant.prompt_version.sha256,
        "variant_config": effective_config(experiment, variant),
        "control_sha256": control.prompt_version.sha256,
        "control_config": effective_config(experiment, control),
    }


def _variants(experiment: Experiment, variants=None) -> tuple[Variant, list[Variant]]:
    variants = variants or list(experiment.variants.select_related("prompt_version"))
    control = next(v for v in variants if v.is_control)
    return control, [v for v in variants if not v.is_control]


def variant_rehearsals(experiment: Experiment, variants=None) -> list[VariantRehearsal]:
    """Each non-control variant's rehearsal state and a sentence saying it; [] when the
    agent has no scenarios (it starts as before, with a notice)."""
    if not experiment.agent.scenarios.exists():
        return []
    control, others = _variants(experiment, variants)
    margin = experiment.agent.rehearsal_margin
    rows = []
    for variant in others:
        freshness, found = evaluation_freshness(
            **_compared(experiment, variant, control), experiment=experiment
        )
        state = _state(freshness, found, margin)
        rows.append(VariantRehearsal(variant, state, found, _sentence(variant, state, found)))
    return rows


def _state(freshness: str, evaluation: Evaluation | None, margin: float) -> str:
    if freshness != "current":
        return freshness  # missing or stale
    if evaluation.status in (Status.QUEUED, Status.RUNNING):
        return RUNNING
    if evaluation.status != Status.DONE or not evaluation.results:
        return FAILED  # the endpoint refused us, or the cost cap stopped it
    interval = EvaluationResults.from_json(evaluation.results).interval
    return gate(interval, margin)


def _percent(share) -> str:
    return "no" if share is None else f"{share * 100:.0f}%"


def _points(value: float) -> str:
    return f"{value * 100:+.0f}".replace("-", "\u2212")  # a true minus sign


def _failed_words(name: str, evaluation: Evaluation) -> str:
    if evaluation.status != Status.DONE or not evaluation.results:
        return f"{name}'s rehearsal did not finish ({evaluation.get_status_display().lower()}). "
    results = EvaluationResults.from_json(evaluation.results)
    interval = results.interval
    if interval.lower is None:
        return (
            f"{name}'s rehearsal compared {interval.scenarios} scenario(s) on both sides; "
            "at least two are needed to rule out a drop. "
        )
    return (
        f"{name}'s rehearsal failed: it passed {_percent(results.overall_rate('variant'))} of "
        f"scenarios against the control's {_percent(results.overall_rate('control'))} "
        f"(range {_points(interval.lower)} to {_points(interval.upper)} points). "
    )


def _sentence(variant: Variant, state: str, evaluation: Evaluation | None) -> str:
    name = f"Variant {variant.key.upper()}"
    if state == PASSED:
        return f"{name}'s rehearsal passed: it does no worse than the control beyond the margin."
    if state == FAILED:
        return _failed_words(name, evaluation) + ASK
    if state == RUNNING:
        done = evaluation.conversations.count()
        total = 2 * len(evaluation.scenario_ids) * evaluation.plays
        return (
            f"{name}'s rehearsal is still running ({done} of {total} simulated calls played). "
            "Wait for it, or ask a manager to override."
        )
    if state == STALE:
        return (
            f"{name}'s prompt or configuration, or the control's, changed since its last "
            "rehearsal. Rehearse it again, or ask a manager to override."
        )
    return (
        f"{name} has not been rehearsed against the control yet. Rehearse it, or ask a "
        "manager to override."
    )


def gate_fingerprint(experiment: Experiment, variants=None) -> str:
    """SHA-256 of every variant's and the control's prompt and effective configuration."""
    control, others = _variants(experiment, variants)
    shown = [
        [v.key, v.prompt_version.sha256, effective_config(experiment, v)]
        for v in [control, *sorted(others, key=lambda v: v.key)]
    ]
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def gate_override_current(experiment: Experiment, variants=None) -> GateOverride | None:
    """The latest override given for exactly what the experiment compares now."""
    return (
        GateOverride.objects.filter(
            experiment=experiment, fingerprint=gate_fingerprint(experiment, variants)
        )
        .order_by("-created_at", "-id")
        .first()
    )


def gate_check(*, experiment: Experiment, variants: list[Variant]) -> None:
    """Refuse the start while a variant's rehearsal blocks and no override holds."""
    blocking = [row for row in variant_rehearsals(experiment, variants) if row.blocks]
    if blocking and gate_override_current(experiment, variants) is None:
        raise ValidationError(" ".join(row.sentence for row in blocking), code="rehearsal")
