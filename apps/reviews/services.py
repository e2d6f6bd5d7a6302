"""Votes on pairs of calls and tags on single calls.

Each function refuses bad input with a ValidationError a person can read and, because each
runs in one transaction, writes nothing when it refuses. Pages check who may vote or tag.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.audit.services import audit_record, person
from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.reviews.models import (
    NOTE_MAX_LENGTH,
    TAG_MAX_LENGTH,
    CallTag,
    PairVote,
    Verdict,
    canonical_pair,
)

FLIPPED = {Verdict.PREFER_A: Verdict.PREFER_B, Verdict.PREFER_B: Verdict.PREFER_A}


def _require_person(user, doing: str):
    if person(user) is None:
        raise ValidationError(f"Only a signed-in person can {doing}.")


def _check_call(experiment: Experiment, call: Call) -> None:
    if call.experiment_id != experiment.pk or call.variant_id is None:
        raise ValidationError(
            f"Call {call.call_id} is not part of “{experiment.name}”; "
            "a vote compares two calls of the same experiment."
        )
    if call.after_stop:
        raise ValidationError(
            f"Call {call.call_id} came in after the experiment stopped, "
            "so it is not part of the comparison."
        )


def _check_pair(experiment: Experiment, call_a: Call, call_b: Call) -> None:
    if call_a.pk == call_b.pk:
        raise ValidationError("A call cannot be compared with itself; pick two calls.")
    _check_call(experiment, call_a)
    _check_call(experiment, call_b)
    if call_a.variant_id == call_b.variant_id:
        raise ValidationError(
            f"Both calls are from {call_a.variant.name}; "
            "a pair compares calls of two different variants."
        )


@transaction.atomic
def pair_vote(
    *, experiment: Experiment, reviewer, call_a: Call, call_b: Call, choice: str, note: str = ""
) -> PairVote:
    """Record (or change) a reviewer's verdict on a pair of calls.

    `choice` speaks of the calls as given: prefer_a means `call_a` went better. The vote is
    stored with the calls in canonical order (see `canonical_pair`), so the same pair shown
    either way round gives the same row, and voting again updates it.
    """
    _require_person(reviewer, "vote")
    if choice not in Verdict.values:
        raise ValidationError(
            f"Say which call went better: the first, the second, both good or both bad "
            f"(“{choice}” is none of these)."
        )
    _check_pair(experiment, call_a, call_b)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            f"Keep the note to {NOTE_MAX_LENGTH} characters; this one has {len(note)}."
        )
    call_a, call_b, swapped = canonical_pair(call_a, call_b)
    verdict = FLIPPED.get(choice, choice) if swapped else choice
    vote = (
        PairVote.objects.select_for_update()
        .filter(reviewer=reviewer, call_a=call_a, call_b=call_b)
        .first()
    )
    before = {"verdict": vote.verdict, "note": vote.note} if vote else None
    if vote is None:
        vote = PairVote(experiment=experiment, reviewer=reviewer, call_a=call_a, call_b=call_b)
    vote.variant_a_id, vote.variant_b_id = call_a.variant_id, call_b.variant_id
    vote.verdict, vote.note = verdict, note
    vote.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            vote.save()
    except IntegrityError:
        raise ValidationError(
            "Your vote on this pair was saved from another window at the same moment. "
            "Reload the page to see it."
        ) from None
    audit_record(
        actor=reviewer,
        action="review.vote",
        obj=vote,
        before=before,
        after={"verdict": verdict, "preferred": _preferred_key(vote), "note": vote.note},
    )
    return vote


def _preferred_key(vote: PairVote) -> str | None:
    if vote.verdict == Verdict.PREFER_A:
        return vote.call_a.variant.key
    if vote.verdict == Verdict.PREFER_B:
        return vote.call_b.variant.key
    return None


def clean_tag(tag: str) -> str:
    """One way to write a tag: trimmed, single spaces, lower case ("Rude " counts as "rude")."""
    text = " ".join((tag or "").split()).lower()
    if not text:
        raise ValidationError("Write a tag, e.g. “rude”, “wrong information” or “great save”.")
    if len(text) > TAG_MAX_LENGTH:
        raise ValidationError(
            f"Keep a tag to {TAG_MAX_LENGTH} characters; this one has {len(text)}. "
            "Put longer remarks in the note of a vote."
        )
    return text


@transaction.atomic
def call_tag(*, call: Call, author, tag: str) -> CallTag:
    """Put a tag on a call. Tagging the same call with the same words again changes nothing."""
    _require_person(author, "tag calls")
    text = clean_tag(tag)
    if call.experiment_id is None or call.variant_id is None:
        raise ValidationError(f"Call {call.call_id} is not part of an experiment's variants.")
    existing = CallTag.objects.filter(call=call, author=author, tag=text).first()
    if existing is not None:
        return existing
    call_tag = CallTag(call=call, author=author, tag=text)
    call_tag.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            call_tag.save()
    except IntegrityError:  # the same tag from a double click: it is there, as asked
        return CallTag.objects.get(call=call, author=author, tag=text)
    audit_record(actor=author, action="review.tag", obj=call, after={"tag": text})
    return call_tag


@transaction.atomic
def call_untag(*, call: Call, author, tag: str) -> bool:
    """Take one of your own tags off a call; False when you had no such tag on it."""
    _require_person(author, "remove tags")
    text = " ".join((tag or "").split()).lower()
    deleted, _ = CallTag.objects.filter(call=call, author=author, tag=text).delete()
    if deleted:
        audit_record(actor=author, action="review.untag", obj=call, before={"tag": text})
    return bool(deleted)
