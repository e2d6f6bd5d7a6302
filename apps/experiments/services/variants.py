"""Variants: fork the control, edit a draft variant (a new prompt version each time)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.agents.services import clean_config, prompt_version_create
from apps.audit.services import audit_record
from apps.experiments.models import (
    Experiment,
    Status,
    Variant,
)
from apps.experiments.services.common import _locked, _require_status

VARIANT_KEYS = "bcdefghij"  # control plus at most nine challengers


def _clean_overrides(config_overrides) -> dict:
    if config_overrides is None:
        return {}
    if not isinstance(config_overrides, dict):
        raise ValidationError({"config": "Configuration overrides must be a JSON object."})
    return clean_config(config_overrides)  # no NUL, finite, shallow: what PostgreSQL stores


@transaction.atomic
def variant_fork(
    *,
    experiment: Experiment,
    user=None,
    name: str = "",
    body: str | None = None,
    config_overrides: dict | None = None,
) -> Variant:
    """Add a variant that starts as a copy of the control's prompt, with no traffic yet."""
    experiment = _locked(experiment)
    _require_status(experiment, {Status.DRAFT}, "variants can be added")
    taken = set(experiment.variants.values_list("key", flat=True))
    free = [k for k in VARIANT_KEYS if k not in taken]
    if not free:
        raise ValidationError(f"An experiment has at most {len(VARIANT_KEYS) + 1} variants.")
    key = free[0]
    control = experiment.variants.select_related("prompt_version").get(is_control=True)
    version = control.prompt_version
    if body is not None and body.strip() != version.body:
        version = prompt_version_create(
            agent=experiment.agent,
            body=body,
            user=user,
            parent=version,
            note=f"Variant {key.upper()} of “{experiment.name}”",
        )
    variant = Variant(
        experiment=experiment,
        key=key,
        name=(name or "").strip() or f"Variant {key.upper()}",
        prompt_version=version,
        config_overrides=_clean_overrides(config_overrides),
        weight=0,
    )
    variant.full_clean()
    variant.save()
    audit_record(
        actor=user,
        action="variant.fork",
        obj=experiment,
        after={"variant": key, "version": version.number},
    )
    return variant


@transaction.atomic
def variant_update_prompt(*, variant: Variant, body: str, user=None, note: str = "") -> Variant:
    """Give a variant a new prompt: a new immutable prompt version, never an edit of one."""
    experiment = _locked(variant.experiment)
    variant = experiment.variants.select_related("prompt_version").get(pk=variant.pk)
    _require_status(experiment, {Status.DRAFT}, "prompts can be edited")
    if variant.is_control:
        raise ValidationError(
            "The control is the agent's current prompt and stays as it is; edit a variant."
        )
    old = variant.prompt_version
    if (body or "").strip() == old.body:
        raise ValidationError({"prompt": "Nothing changed in this prompt."})
    version = prompt_version_create(
        agent=experiment.agent,
        body=body,
        user=user,
        parent=old,
        note=note or f"Variant {variant.key.upper()} of “{experiment.name}”",
    )
    variant.prompt_version = version
    variant.save(update_fields=["prompt_version"])
    audit_record(
        actor=user,
        action="variant.update_prompt",
        obj=experiment,
        before={"variant": variant.key, "version": old.number},
        after={"variant": variant.key, "version": version.number},
    )
    return variant


@transaction.atomic
def variant_update(
    *, variant: Variant, name: str, body: str, config_overrides: dict | None = None, user=None
) -> Variant:
    """Save a draft variant from its editor: name, prompt (a new version when it changed)
    and configuration overrides. The control's prompt stays the agent's current prompt."""
    experiment = _locked(variant.experiment)
    variant = experiment.variants.select_related("prompt_version").get(pk=variant.pk)
    _require_status(experiment, {Status.DRAFT}, "variants can be edited")
    if variant.is_control and (body or "").strip() != variant.prompt_version.body:
        raise ValidationError(
            {"prompt": "The control is the agent's current prompt; change it in a variant."}
        )
    before = {"name": variant.name, "config": variant.config_overrides}
    variant.name = (name or "").strip() or variant.name
    variant.config_overrides = _clean_overrides(config_overrides)
    variant.full_clean()
    variant.save(update_fields=["name", "config_overrides"])
    if not variant.is_control and (body or "").strip() != variant.prompt_version.body:
        variant = variant_update_prompt(variant=variant, body=body, user=user)
    audit_record(
        actor=user,
        action="variant.update",
        obj=experiment,
        before=before,
        after={
            "name": variant.name,
            "config": variant.config_overrides,
            "version": variant.prompt_version.number,
        },
    )
    return variant
