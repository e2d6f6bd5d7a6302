from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.calls.models import Call
from apps.experiments.models import Experiment, Variant

TAG_MAX_LENGTH = 40
NOTE_MAX_LENGTH = 1000


class Verdict(models.TextChoices):
    """What a reviewer said about a pair, in canonical terms: A is the call of the variant
    with the lower id (usually the control), B the other one, whatever side each was shown on."""

    PREFER_A = "prefer_a", "First variant's call better"
    PREFER_B = "prefer_b", "Second variant's call better"
    BOTH_GOOD = "both_good", "Both good"
    BOTH_BAD = "both_bad", "Both bad"


DECIDED = (Verdict.PREFER_A, Verdict.PREFER_B)


def canonical_pair(first: Call, second: Call) -> tuple[Call, Call, bool]:
    """The two calls in canonical order (lower variant id first), and whether they were swapped.

    Storing the pair this way means a vote says which *variant* won, never which side of the
    screen it was on, so shuffling the sides in blind mode cannot corrupt the data."""
    ids = (first.variant_id, second.variant_id)
    if None not in ids and ids[0] > ids[1]:
        return second, first, True
    return first, second, False


class PairVote(models.Model):
    """One reviewer's verdict on a pair of calls, one from each of two variants."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="pair_votes")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pair_votes"
    )
    call_a = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+")
    call_b = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+")
    # The calls' variants when the vote was cast, kept here so that the tally is one GROUP BY
    # over this table (no join to a million calls) and the canonical order is a constraint.
    variant_a = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    variant_b = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    note = models.CharField(blank=True, max_length=NOTE_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "call_a", "call_b"], name="one_vote_per_reviewer_per_pair"
            ),
            models.CheckConstraint(
                condition=Q(variant_a__lt=F("variant_b")), name="pair_vote_canonical_order"
            ),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values), name="pair_vote_verdict_valid"
            ),
        ]
        indexes = [models.Index(fields=["experiment", "call_a", "call_b"], name="pair_vote_pair")]

    def __str__(self):
        return f"Vote on calls {self.call_a_id} and {self.call_b_id}"

    @property
    def preferred_call_id(self) -> int | None:
        return {Verdict.PREFER_A: self.call_a_id, Verdict.PREFER_B: self.call_b_id}.get(
            self.verdict
        )


class CallTag(models.Model):
    """A short label a reviewer put on one call ("rude", "great save")."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="review_tags")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="call_tags"
    )
    tag = models.CharField(max_length=TAG_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tag", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "author", "tag"], name="one_tag_text_per_author_per_call"
            ),
        ]

    def __str__(self):
        return f"“{self.tag}” on call {self.call_id}"
