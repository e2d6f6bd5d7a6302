"""Criteria (what a passing call looks like, versioned) and pausing or resuming the judge."""

import logging
from itertools import batched

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from apps.audit.services import audit_record, person
from apps.experiments.models import Experiment, GoalKind, Status
from apps.judging.client import JudgeRefused
from apps.judging.models import Criterion, Judgement, Verdict
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from config.celery import queue_after_commit

log = logging.getLogger(__name__)
QUEUE_BATCH = 500  # call ids per "judging.judge_calls" message


def _queue_judging(call_ids: list[int]) -> None:
    """Queue "judging.judge_calls" by name, in batches, once the change is committed.

    A broker that is down is logged, not raised: the change still stands, and resuming
    judging queues whatever was missed.
    """

    for chunk in batched(call_ids, QUEUE_BATCH):
        queue_after_commit("judging.judge_calls", list(chunk), what=f"{len(chunk)} calls")


def _locked(experiment: Experiment) -> Experiment:
    return Experiment.objects.select_for_update(of=("self",)).get(pk=experiment.pk)


def criterion_current(*, experiment: Experiment) -> Criterion:
    """The experiment's current criterion; version 1 is made from its goal when none exists."""
    criterion = experiment.criteria.order_by("-version").first()
    if criterion is not None:
        return criterion
    try:
        with transaction.atomic():
            return Criterion.objects.create(
                experiment=experiment, version=1, text=experiment.goal_criteria.strip()
            )
    except IntegrityError:  # made by someone else at the same moment
        return experiment.criteria.order_by("-version").first()


@transaction.atomic
def criterion_update(*, experiment: Experiment, text: str, user=None) -> Criterion:
    """Save a new version of the criterion and have the judge read every call again."""
    experiment = _locked(experiment)
    if experiment.goal_kind != GoalKind.CUSTOM:
        raise ValidationError(
            f"“{experiment.name}” is decided by {experiment.goal_label.lower()}; only a custom "
            "goal has a criterion for the judge."
        )
    text = (text or "").strip()
    if not text:
        raise ValidationError("Describe what a good call looks like; the judge reads this.")
    current = criterion_current(experiment=experiment)
    if text == current.text:
        raise ValidationError("The criterion is unchanged, so there is nothing to judge again.")
    criterion = Criterion(
        experiment=experiment, version=current.version + 1, text=text, created_by=person(user)
    )
    criterion.full_clean()
    criterion.save()
    experiment.goal_criteria = text
    experiment.save(update_fields=["goal_criteria"])
    audit_record(
        actor=user,
        action="judging.criterion",
        obj=experiment,
        before={"version": current.version, "criterion": current.text},
        after={"version": criterion.version, "criterion": text},
    )
    _queue_judging(list(experiment.calls.order_by("pk").values_list("pk", flat=True)))
    return criterion


# Pausing


def refusal_sentence(error: JudgeRefused, *, base_url: str, model: str, sent_key: bool) -> str:
    """Why judging stopped and what a person should do, for the experiment's page."""
    said = f": “{error.message[:150]}”" if error.message else ""
    if error.status == 401 and not sent_key:
        return (
            f"The judge endpoint {base_url} asks for a key (401 Unauthorized{said}), and "
            "JUDGE_API_KEY is only sent to JUDGE_BASE_URL. Point this experiment at the site's "
            "judge or run the endpoint without a key, then resume judging."
        )
    if error.status == 401:
        return (
            f"The judge endpoint refused the key (401 Unauthorized{said}). "
            "Check JUDGE_API_KEY, then resume judging."
        )
    if error.status in (402, 429):
        return (
            f"The judge endpoint's account has no credit or quota left ({error.status}{said}). "
            "Add credit or raise the quota, then resume judging."
        )
    if error.status == 403:
        return (
            f"The judge endpoint does not let this key use the model “{model}” (403 Forbidden"
            f"{said}). Check the key's permissions or pick another judge model, then resume "
            "judging."
        )
    if error.status == 404:
        return (
            f"The judge endpoint {base_url} does not know the model “{model}” (404 Not Found"
            f"{said}). Check the judge's base URL and model, then resume judging."
        )
    return f"The judge endpoint cannot be used ({error}). Correct it, then resume judging."


@transaction.atomic
def judging_pause(*, experiment: Experiment, reason: str, user="the judge") -> Experiment:
    """Stop sending this experiment's calls to the judge until a person resumes it."""
    experiment = _locked(experiment)
    if experiment.judging_paused_reason:
        return experiment  # the first refusal explains it; the others add nothing
    experiment.judging_paused_reason = reason
    experiment.save(update_fields=["judging_paused_reason"])
    audit_record(
        actor=user, action="judging.pause", obj=experiment, after={"reason": reason}, reason=reason
    )
    log.warning("Judging paused for experiment %s: %s", experiment.pk, reason)
    return experiment


@transaction.atomic
def judging_resume(*, experiment: Experiment, user=None) -> Experiment:
    """Send calls to the judge again: the calls with no verdict under the current criterion,
    and those whose judge errors deserve another try (most come from the trouble that
    paused judging)."""
    experiment = _locked(experiment)
    reason = experiment.judging_paused_reason
    if reason:
        experiment.judging_paused_reason = ""
        experiment.save(update_fields=["judging_paused_reason"])
        audit_record(actor=user, action="judging.resume", obj=experiment, before={"reason": reason})
    if experiment.goal_kind != GoalKind.CUSTOM:
        return experiment
    criterion = criterion_current(experiment=experiment)
    Judgement.objects.filter(criterion=criterion, verdict=Verdict.ERROR).delete()
    judged = Judgement.objects.filter(
        call=OuterRef("pk"),
        criterion=criterion,
        model=experiment.judge[1],
        prompt_version=JUDGE_PROMPT_VERSION,
    )
    _queue_judging(
        list(experiment.calls.filter(~Exists(judged)).order_by("pk").values_list("pk", flat=True))
    )
    return experiment


MAX_MODEL_CHARS = 100  # Experiment.judge_model


@transaction.atomic
def judge_set(*, experiment: Experiment, base_url: str, model: str, user=None) -> Experiment:
    """Give the experiment its own LLM judge (any OpenAI-compatible chat-completions endpoint
    and model), or, both empty, go back to the site's (JUDGE_BASE_URL, JUDGE_MODEL).

    Only before or while the test runs: a stopped experiment's results are frozen. A running
    custom goal's calls go to the new judge (only its verdicts count toward the pass rate)."""
    base_url, model = (base_url or "").strip(), (model or "").strip()
    problems = {}
    if "\x00" in base_url or len(base_url) > 200:
        problems["base_url"] = "Give the endpoint's address, at most 200 characters."
    elif base_url:
        try:
            URLValidator(schemes=["http", "https"])(base_url)
        except ValidationError:
            problems["base_url"] = (
                "Give an http:// or https:// address, e.g. http://127.0.0.1:11434/v1."
            )
    if "\x00" in model or len(model) > MAX_MODEL_CHARS:
        problems["model"] = f"Give the model's name, at most {MAX_MODEL_CHARS} characters."
    if bool(base_url) != bool(model) and not problems:
        problems["model" if base_url else "base_url"] = (
            "Give both the endpoint and the model, or leave both empty for the site's judge."
        )
    if problems:
        raise ValidationError(problems)
    experiment = _locked(experiment)
    if experiment.status not in (Status.DRAFT, Status.RUNNING):
        raise ValidationError(
            "This experiment has stopped and its results are frozen; its judge no longer "
            "changes anything.",
            code="status",
        )
    before = {"base_url": experiment.judge_base_url, "model": experiment.judge_model}
    after = {"base_url": base_url, "model": model}
    if before == after:
        return experiment
    experiment.judge_base_url, experiment.judge_model = base_url, model
    experiment.save(update_fields=["judge_base_url", "judge_model"])
    audit_record(actor=user, action="judging.judge", obj=experiment, before=before, after=after)
    if experiment.status == Status.RUNNING:
        judging_resume(experiment=experiment, user=user)  # the new judge reads every call
    return experiment
