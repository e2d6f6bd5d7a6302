"""The optional ramp: the variants start at a small share and widen while their guardrails hold.

At start each variant other than the control gets `FIRST_STEP` percent (the control the rest)
and the split set on screen is kept as the ramp's target. The results job then widens each
variant whose guardrails are shown safe one step, 5 -> 25 -> its target, through
`weights_set`: every step is a new phase of the split, audited, and the routers learn of it.
A variant whose guardrails are not yet shown safe stays where it is; one shown worse is
paused by the guardrail job, and a paused variant is never widened.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.experiments.models import Experiment, Status, Variant
from apps.experiments.services.common import _locked
from apps.experiments.services.traffic import weights_set

FIRST_STEP = 5
STEPS = (FIRST_STEP, 25)  # then the variant's target
RAMP = "ramp job"


def clean_ramp(*, ramp, optimize: bool) -> bool:
    """A ramp widens a fixed split; optimize mode already moves traffic by itself."""
    if ramp and optimize:
        raise ValidationError(
            {
                "ramp": "Ramp up works with a fixed split only: optimize mode already moves "
                "traffic toward the best variant by itself. Turn one of them off."
            }
        )
    return bool(ramp)


def next_share(current: int, target: int) -> int | None:
    """The next step of a variant at `current` percent ramping to `target`; None at the end."""
    for step in (*STEPS, target):
        if current < step <= target:
            return step
    return None


def ramp_start_weights(variants: list[Variant]) -> tuple[dict[str, int], dict[str, int]]:
    """(the target split, the split to start with): each variant with traffic at 5% or its
    target when that is smaller, the control the rest."""
    target = {v.key: v.weight for v in variants}
    start = {v.key: min(v.weight, FIRST_STEP) for v in variants if not v.is_control}
    control = next(v for v in variants if v.is_control)
    start[control.key] = 100 - sum(start.values())
    return target, start


def _widened(experiment: Experiment, guardrails_hold: dict) -> dict[str, int] | None:
    variants = list(experiment.variants.order_by("-is_control", "key"))
    weights = {v.key: v.weight for v in variants}
    control = next(v.key for v in variants if v.is_control)
    for variant in variants:
        step = next_share(variant.weight, experiment.ramp_target.get(variant.key, 0))
        paused = variant.paused_weight is not None or variant.weight == 0
        holds = guardrails_hold.get(variant.key) is True  # 1 or "yes" is no proof
        if variant.is_control or paused or step is None or not holds:
            continue
        wider = min(step - variant.weight, weights[control])  # a hand-set split may leave less
        weights[variant.key] += wider
        weights[control] -= wider
    return None if weights == {v.key: v.weight for v in variants} else weights


@transaction.atomic
def experiment_ramp_step(
    *, experiment: Experiment, guardrails_hold: dict[str, bool]
) -> dict | None:
    """Widen each variant whose guardrails hold (`guardrails_hold[key] is True`) one step
    toward its target, taking the share from the control. Returns the new split, or None
    when nothing moved (no ramp, not running, every variant at its target or held back)."""
    experiment = _locked(experiment)
    if not experiment.ramp or experiment.status != Status.RUNNING:
        return None
    weights = _widened(experiment, guardrails_hold)
    if weights is not None:
        weights_set(experiment=experiment, weights=weights, user=RAMP)
    return weights


def ramp_lines(experiment: Experiment) -> list[str]:
    """Where the ramp is, a sentence per variant still widening, for the experiment page."""
    if not experiment.ramp or experiment.status != Status.RUNNING:
        return []
    lines = []
    for variant in experiment.variants.filter(is_control=False).order_by("key"):
        step = next_share(variant.weight, experiment.ramp_target.get(variant.key, 0))
        if variant.paused_weight is not None or variant.weight == 0 or step is None:
            continue
        lines.append(
            f"Ramping: {variant.name} at {variant.weight}% now; it widens to {step}% once "
            "its guardrails are shown safe."
        )
    return lines
