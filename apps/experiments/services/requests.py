"""Asking a manager to apply a variant, and the answer.

An operator may not apply a winner; they ask. The request is written with an audit line and
announced on the alert webhook (through the outbox, so it is sent once the request commits,
and later if Redis is away). It closes when the experiment is applied, whichever variant, or
when a manager declines it.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_record, person
from apps.experiments.models import ApplyRequest, Experiment, Status
from apps.experiments.selectors import variant_verdict
from apps.experiments.services.common import _locked
from config.celery import queue_after_commit

MAX_NOTE_CHARS = 2000


def apply_requests_pending():
    """Every request still waiting for a manager, oldest first, for the managers' home page.
    A request on an experiment applied by another path (the API) no longer waits."""
    return (
        ApplyRequest.objects.filter(state=ApplyRequest.PENDING)
        .exclude(experiment__status=Status.APPLIED)
        .select_related("experiment__agent", "variant", "requested_by")
        .order_by("created_at", "id")
    )


def apply_request_pending(experiment: Experiment) -> ApplyRequest | None:
    return apply_requests_pending().filter(experiment=experiment).first()


def apply_request_declined(experiment: Experiment) -> ApplyRequest | None:
    """The experiment's newest request when a manager declined it (and none waits since)."""
    latest = (
        experiment.apply_requests.select_related("variant", "requested_by", "closed_by")
        .order_by("-created_at", "-id")
        .first()
    )
    return latest if latest is not None and latest.state == ApplyRequest.DECLINED else None


def _check_askable(experiment: Experiment, variant_key: str):
    if experiment.status not in (Status.RUNNING, Status.STOPPED):
        raise ValidationError(
            "Only a running or stopped experiment can have a variant applied; this one is "
            f"{experiment.get_status_display().lower()}.",
            code="status",
        )
    variant = experiment.variants.filter(key=variant_key).first()
    if variant is None:
        raise ValidationError(f"There is no variant “{variant_key}” in this experiment.")
    if variant.is_control:
        raise ValidationError(
            "The control is the prompt the agent already uses: there is nothing to apply.",
            code="control",
        )
    verdict = variant_verdict(experiment, variant_key) or {}
    if verdict.get("code") == "guardrail":
        raise ValidationError(f"{verdict['sentence']} Applying it is blocked.", code="guardrail")
    return variant


@transaction.atomic
def apply_request_create(
    *, experiment: Experiment, variant_key: str, user, note: str = ""
) -> ApplyRequest:
    """Ask a manager to apply `variant_key`. Refused while another request of this
    experiment waits, for the control, or for a variant a guardrail blocks."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationError({"note": f"Keep the note under {MAX_NOTE_CHARS:,} characters."})
    experiment = _locked(experiment)
    variant = _check_askable(experiment, variant_key)
    waiting = apply_request_pending(experiment)
    if waiting is not None:
        raise ValidationError(
            f"{_who(waiting.requested_by)} already asked a manager to apply "
            f"{waiting.variant.name} ({waiting.created_at:%b %-d, %H:%M} UTC); a manager "
            "answers that first.",
            code="pending",
        )
    request = ApplyRequest(
        experiment=experiment, variant=variant, requested_by=person(user), note=note
    )
    request.full_clean(exclude=["requested_by", "closed_by"])
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:  # another request was written at the same moment
        raise ValidationError(
            "Someone asked a manager to apply a variant of this experiment at the same moment.",
            code="pending",
        ) from None
    audit_record(
        actor=user,
        action="apply_request.create",
        obj=request,
        after={"experiment": experiment.pk, "variant": variant.key},
        reason=note,
    )
    said = f": “{note}”" if note else "."
    _announce(experiment, f"{_who(person(user))} asks a manager to apply {variant.name}{said}")
    return request


@transaction.atomic
def apply_request_decline(*, request: ApplyRequest, user, answer: str = "") -> ApplyRequest:
    """A manager says no; the answer is kept and the asker can ask again."""
    request = ApplyRequest.objects.select_for_update().get(pk=request.pk)
    if request.state != ApplyRequest.PENDING:
        raise ValidationError("This request was already answered.", code="closed")
    request.state = ApplyRequest.DECLINED
    request.answer = (answer or "").strip()[:MAX_NOTE_CHARS]
    request.closed_at, request.closed_by = timezone.now(), person(user)
    request.save(update_fields=["state", "answer", "closed_at", "closed_by"])
    audit_record(
        actor=user,
        action="apply_request.decline",
        obj=request,
        before={"state": ApplyRequest.PENDING},
        after={"state": ApplyRequest.DECLINED, "experiment": request.experiment_id},
        reason=request.answer,
    )
    return request


@transaction.atomic
def apply_requests_close(*, experiment: Experiment, user=None) -> int:
    """Close the experiment's waiting request once it is applied; returns how many closed."""
    if experiment.status != Status.APPLIED:
        return 0
    closed = 0
    for request in experiment.apply_requests.select_for_update().filter(state=ApplyRequest.PENDING):
        request.state = ApplyRequest.APPLIED
        request.closed_at, request.closed_by = timezone.now(), person(user)
        request.save(update_fields=["state", "closed_at", "closed_by"])
        audit_record(
            actor=user,
            action="apply_request.close",
            obj=request,
            before={"state": ApplyRequest.PENDING},
            after={"state": ApplyRequest.APPLIED, "experiment": request.experiment_id},
        )
        closed += 1
    return closed


def _who(user) -> str:
    if user is None:
        return "Someone"
    return user.get_full_name() or user.get_username()


def _announce(experiment: Experiment, text: str) -> None:
    message = f"{experiment.agent.name} · {experiment.name}: {text}"
    link = f"{settings.SITE_URL}{experiment.get_absolute_url()}"
    queue_after_commit(
        "results.send_alert",
        message,
        link,
        "Switchboard: a manager is asked to apply a variant",
        what="an apply request",
    )
