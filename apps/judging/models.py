from django.conf import settings
from django.db import models

from apps.calls.models import Call
from apps.experiments.models import Experiment


class Verdict(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    UNKNOWN = "unknown", "Unknown"
    ERROR = "error", "Judge error"


class HumanChoice(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class Criterion(models.Model):
    """One version of a custom goal's criterion: what a passing call looks like.

    Versions are never edited; a change makes a new one, and the highest is the current one.
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="criteria")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["experiment", "-version"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "version"], name="criterion_version_unique"
            )
        ]

    def __str__(self):
        return f"{self.experiment} criterion v{self.version}"


class Judgement(models.Model):
    """The LLM judge's verdict on one call under one criterion, model and prompt version.

    "error" means the judge gave no usable verdict (`error` says why): it is left out of the
    goal and counted apart, never as a fail.
    """

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="judgements")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="judgements")
    model = models.CharField(max_length=100)
    prompt_version = models.PositiveIntegerField()
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    reasoning = models.TextField(blank=True)
    error = models.TextField(blank=True)
    cache_key = models.CharField(
        max_length=64, db_index=True, help_text="SHA-256 of what the judge was shown."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "criterion", "model", "prompt_version"],
                name="judgement_unique_per_call_criterion_model_prompt",
            )
        ]
        # The pass rate per variant: one GROUP BY over a criterion's judgements.
        indexes = [
            models.Index(fields=["criterion", "verdict"], name="judgement_criterion_verdict")
        ]

    def __str__(self):
        return f"{self.call} v{self.criterion.version}: {self.verdict}"


class HumanVerdict(models.Model):
    """A manager's own pass or fail on a call, to check the judge against people."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="human_verdicts")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="human_verdicts"
    )
    verdict = models.CharField(max_length=8, choices=HumanChoice.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "reviewer"], name="human_verdict_per_reviewer")
        ]

    def __str__(self):
        return f"{self.reviewer} on {self.call}: {self.verdict}"
