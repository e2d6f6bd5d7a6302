"""A draft before it runs: its settings edited, the draft deleted, variants added with an even
share or removed, and a start that uses the split the person sees.

Pages and the API call these same functions; each refuses with a ValidationError a person can
read and, in one transaction, writes nothing when it refuses.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from apps.audit.services import audit_record
from apps.experiments.models import Experiment, Status, Unit, Variant
from apps.experiments.services.common import _locked, _require_status
from apps.experiments.services.lifecycle import (
    _clean_choices,
    _clean_description,
    _clean_optimize,
    clean_segments,
    experiment_start,
)
from apps.experiments.services.ramp import clean_ramp
from apps.experiments.services.traffic import weights_set
from apps.experiments.services.variants import variant_fork
from apps.metrics import for_agent

SETTINGS = (
    "name",
    "description",
    "goal_kind",
    "goal_direction",
    "goal_criteria",
    "guardrails",
    "secondary",
    "segments",
    "unit",
    "min_lift",
    "optimize",
    "ramp",
)


def even_weights(keys: list[str]) -> dict[str, int]:
    """Whole percents as even as they can be, adding up to 100; the last variants take the
    remainder (33/33/34), as the page's "Even split" preset does."""
    share, extra = divmod(100, len(keys))
    return {key: share + (1 if i >= len(keys) - extra else 0) for i, key in enumerate(keys)}


def _clean_settings(
    *, agent_id, unit, min_lift, optimize, ramp=False, segments=None, **choices
) -> dict:
    cleaned = _clean_choices(agent_id=agent_id, **choices)
    if unit not in Unit.values:
        raise ValidationError(
            {"unit": "Choose “caller” (each caller keeps one variant) or “call”."}
        )
    optimize = _clean_optimize(for_agent(agent_id), cleaned["goal_kind"], optimize)
    number = isinstance(min_lift, int | float) and not isinstance(min_lift, bool)
    if not number or not 0 < min_lift <= 10:
        raise ValidationError(
            {"min_lift": "The smallest lift worth detecting must be above 0%, e.g. 5%."}
        )
    ramp = clean_ramp(ramp=ramp, optimize=optimize)
    return {
        **cleaned,
        "segments": clean_segments(segments),
        "unit": unit,
        "min_lift": float(min_lift),
        "optimize": optimize,
        "ramp": ramp,
    }


@transaction.atomic
def experiment_update(
    *,
    experiment: Experiment,
    user=None,
    name: str,
    goal_kind: str,
    description: str = "",
    goal_direction: str = "",
    goal_criteria: str = "",
    guardrails: list | None = None,
    secondary: list[str] | None = None,
    segments: list[str] | None = None,
    unit: str = Unit.CALLER,
    min_lift: float = 0.05,
    optimize: bool = False,
    ramp: bool = False,
) -> Experiment:
    """Change a draft's settings: name, hypothesis, goal, guardrails (with their thresholds),
    secondary metrics, segments kept, unit, smallest lift and optimize mode. Its agent stays:
    the control is that agent's prompt. Only what changed is audited; saving unchanged
    settings records nothing."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "its settings can change")
    values = {
        "name": (name or "").strip(),
        "description": _clean_description(description),
        **_clean_settings(
            agent_id=experiment.agent_id,
            goal_kind=goal_kind,
            goal_direction=goal_direction,
            goal_criteria=goal_criteria,
            guardrails=guardrails,
            secondary=secondary,
            segments=segments,
            unit=unit,
            min_lift=min_lift,
            optimize=optimize,
            ramp=ramp,
        ),
    }
    before = {field: getattr(experiment, field) for field in SETTINGS}
    changed = [field for field in SETTINGS if values[field] != before[field]]
    if not changed:
        return experiment
    for field in changed:
        setattr(experiment, field, values[field])
    experiment.full_clean(exclude=["winner"])
    experiment.save(update_fields=changed)
    audit_record(
        actor=user,
        action="experiment.update",
        obj=experiment,
        before={field: before[field] for field in changed},
        after={field: values[field] for field in changed},
    )
    return experiment


@transaction.atomic
def experiment_delete(*, experiment: Experiment, user=None) -> None:
    """Delete a draft and its variants. A draft never sent a call anywhere, so nothing else
    points at it; an experiment that ran stays, as its calls and results need it. The prompt
    versions its variants made stay in the agent's history, as every version does."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "it can be deleted")
    audit_record(
        actor=user,
        action="experiment.delete",
        obj=experiment,
        before={
            "agent": experiment.agent.slug,
            "variants": sorted(experiment.variants.values_list("key", flat=True)),
        },
    )
    try:
        experiment.delete()
    except ProtectedError:
        raise ValidationError(
            "Calls were reported for this draft, so it stays: they keep their experiment."
        ) from None


@transaction.atomic
def variant_add(
    *,
    experiment: Experiment,
    user=None,
    name: str = "",
    body: str | None = None,
    config_overrides: dict | None = None,
) -> Variant:
    """Add a variant (a copy of the control's prompt unless `body` says otherwise) and split
    the traffic evenly over all variants, so a draft can start with every variant getting a
    share instead of one stuck at 0%."""
    variant = variant_fork(
        experiment=experiment,
        user=user,
        name=name,
        body=body,
        config_overrides=config_overrides,
    )
    _split_evenly(experiment, user)
    variant.refresh_from_db(fields=["weight"])
    return variant


def _split_evenly(experiment: Experiment, user) -> None:
    keys = list(experiment.variants.order_by("-is_control", "key").values_list("key", flat=True))
    weights_set(experiment=experiment, weights=even_weights(keys), user=user)


@transaction.atomic
def variant_remove(*, experiment: Experiment, variant_key: str, user=None) -> None:
    """Remove a variant from a draft. The control stays: it is the agent's prompt, the one
    everything is compared with. Its share goes back: an even split stays even, otherwise
    the control takes it."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "variants can be removed")
    variants = list(experiment.variants.select_related("prompt_version"))
    variant = next((v for v in variants if v.key == variant_key), None)
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” in this experiment.")
    if variant.is_control:
        raise ValidationError(
            "The control cannot be removed: it is the agent's current prompt, the one every "
            "variant is compared with."
        )
    rest = [v for v in variants if v.pk != variant.pk]
    was_even = {v.key: v.weight for v in variants} == even_weights([v.key for v in variants])
    audit_record(
        actor=user,
        action="variant.remove",
        obj=experiment,
        before={"variant": variant.key, "name": variant.name, "weight": variant.weight},
    )
    try:
        variant.delete()
    except ProtectedError:
        raise ValidationError(
            f"Calls were reported for {variant.name}, so it stays: they keep their variant."
        ) from None
    if was_even:
        weights = even_weights([v.key for v in rest])
    else:
        weights = {v.key: v.weight + (variant.weight if v.is_control else 0) for v in rest}
    weights_set(experiment=experiment, weights=weights, user=user)


@transaction.atomic
def experiment_start_with_weights(
    *, experiment: Experiment, user=None, weights: dict | None = None, expected_version=None
) -> Experiment:
    """Start with the split the person sees: when they changed it without saving, it is saved
    first, in the same transaction, so a refused start saves nothing either."""
    if weights:
        weights_set(
            experiment=experiment, weights=weights, user=user, expected_version=expected_version
        )
    return experiment_start(experiment=experiment, user=user)
