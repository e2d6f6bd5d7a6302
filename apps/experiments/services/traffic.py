"""The traffic split: weights that add up to 100, and pausing/resuming a variant.

Every change of a running experiment's weights also moves its bucket layout through
`bucketing.relayout`, in the same transaction: only the callers of a variant that lost share
move, and only to variants that gained (a paused variant's callers to the control).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.assignments import bucketing
from apps.audit.services import audit_record
from apps.experiments.models import (
    Experiment,
    Status,
    Variant,
)
from apps.experiments.services.common import _locked, _require_status, phase_record

MAX_REASON_CHARS = 1000  # shown on the page and in the audit log, to everyone


def _clean_weights(weights, keys: list[str]) -> dict[str, int]:
    if not isinstance(weights, dict) or not weights:
        raise ValidationError('Give a weight for each variant, e.g. {"control": 50, "b": 50}.')
    unknown = sorted(set(weights) - set(keys))
    if unknown:
        raise ValidationError(f"There is no variant “{unknown[0]}” in this experiment.")
    missing = [k for k in keys if k not in weights]
    if missing:
        raise ValidationError(f"Give every variant a weight; missing: {', '.join(missing)}.")
    clean = {}
    for key in keys:
        value = weights[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"Weights are whole percentages; “{value}” for {key} is not one.")
        if not 0 <= value <= 100:
            raise ValidationError(f"The weight of {key} is {value}%; it must be from 0 to 100.")
        clean[key] = value
    total = sum(clean.values())
    if total != 100:
        raise ValidationError(
            f"Traffic weights add up to {total}%; they must add up to 100%.", code="sum"
        )
    return clean


@transaction.atomic
def weights_set(
    *, experiment: Experiment, weights: dict, user=None, expected_version: int | None = None
) -> Experiment:
    """Set the traffic split: whole percentages, one per variant, adding up to exactly 100.

    `expected_version` is the experiment's `weights_version` the person saw; when someone
    else saved a split in between, the save is refused instead of silently overwriting theirs.
    """
    experiment = _locked(experiment)
    if expected_version is not None and expected_version != experiment.weights_version:
        raise ValidationError(
            "Someone else changed the traffic split while you were editing it. "
            "Reload to see their split, then make your change again.",
            code="conflict",
        )
    _require_status(experiment, {Status.DRAFT, Status.RUNNING}, "the split can change")
    variants = list(experiment.variants.order_by("-is_control", "key"))
    clean = _clean_weights(weights, [v.key for v in variants])
    before = {v.key: v.weight for v in variants}
    if clean == before:
        return experiment
    before_ids = {v.id: v.weight for v in variants}
    for variant in variants:
        if variant.weight != clean[variant.key]:
            variant.weight = clean[variant.key]
            variant.save(update_fields=["weight"])
    _new_phase(experiment, before_ids, {v.id: v.weight for v in variants})
    audit_record(
        actor=user, action="experiment.weights", obj=experiment, before=before, after=clean
    )
    return experiment


def _new_phase(experiment: Experiment, before: dict[int, int], after: dict[int, int]) -> None:
    """A new phase of the split; a running experiment's buckets move as little as possible.
    A draft has no callers yet: it is laid out when it starts."""
    fields = ["weights_version"]
    experiment.weights_version += 1
    if experiment.status == Status.RUNNING:
        old = bucketing.current_layout(experiment.bucket_layout, before)
        experiment.bucket_layout = [list(r) for r in bucketing.relayout(old, before, after)]
        experiment.phases = [*experiment.phases, phase_record(experiment, after)]
        fields += ["bucket_layout", "phases"]
    experiment.save(update_fields=fields)


@transaction.atomic
def variant_pause(
    *,
    experiment: Experiment,
    variant_key: str,
    reason: str,
    user=None,
    refuse_paused: bool = False,
) -> Variant:
    """Send a variant's traffic to the control, remembering its weight for a resume.

    Only that variant's callers move, all to the control. Pausing a variant that is already
    paused changes nothing; the guardrail job relies on that, while a person asking
    (`refuse_paused`) is told instead.
    """
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "variants can be paused")
    variants = {v.key: v for v in experiment.variants.all()}
    variant, control = variants.get(variant_key), next(v for v in variants.values() if v.is_control)
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” in this experiment.")
    if variant.is_control:
        raise ValidationError("Only a variant other than the control can be paused.")
    if not (reason or "").strip():
        raise ValidationError("Say why the variant is paused; the page and the audit log show it.")
    if len(reason.strip()) > MAX_REASON_CHARS:
        raise ValidationError(f"Keep the reason under {MAX_REASON_CHARS:,} characters.")
    if variant.weight == 0:
        if refuse_paused:
            raise ValidationError(f"{variant.name} is already paused (0% of calls).")
        return variant
    before = {v.key: v.weight for v in variants.values()}
    variant.paused_weight, variant.paused_reason = variant.weight, reason.strip()
    control.weight, variant.weight = control.weight + variant.weight, 0
    _save_moved_traffic(experiment, variants, before, "variant.pause", user, reason)
    return variant


def _save_moved_traffic(experiment, variants: dict, before: dict, action: str, user, reason=""):
    """Save a pause or resume: both variants, a new phase of the split, an audit entry."""
    by_id = {v.id: before[v.key] for v in variants.values()}
    for variant in variants.values():
        variant.save(update_fields=["weight", "paused_weight", "paused_reason"])
    _new_phase(experiment, by_id, {v.id: v.weight for v in variants.values()})
    audit_record(
        actor=user,
        action=action,
        obj=experiment,
        reason=reason,
        before=before,
        after={v.key: v.weight for v in variants.values()},
    )


@transaction.atomic
def variant_resume(*, experiment: Experiment, variant_key: str, user=None) -> Variant:
    """Give a paused variant its weight back, taken from the control. Only control callers
    move, to this variant; after a single pause it gets its own former buckets back."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.RUNNING}, "variants can be resumed")
    variants = {v.key: v for v in experiment.variants.all()}
    variant, control = variants.get(variant_key), next(v for v in variants.values() if v.is_control)
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” in this experiment.")
    if variant.paused_weight is None:
        raise ValidationError("That variant was not paused automatically; set its weight instead.")
    if control.weight < variant.paused_weight:
        raise ValidationError(
            f"The control has {control.weight}% left, less than the {variant.paused_weight}% "
            f"{variant.name} had; set the split by hand."
        )
    before = {v.key: v.weight for v in variants.values()}
    control.weight -= variant.paused_weight
    variant.weight, variant.paused_weight, variant.paused_reason = variant.paused_weight, None, ""
    _save_moved_traffic(experiment, variants, before, "variant.resume", user)
    return variant
