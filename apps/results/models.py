from django.db import models

from apps.experiments.models import Experiment


class ResultSnapshot(models.Model):
    """The statistics of an experiment at one moment. Pages and the API read the latest one,
    so showing results costs the same at a thousand calls or ten million. The snapshot
    taken when an experiment stops is frozen: later calls never change it."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="snapshots")
    computed_at = models.DateTimeField(db_index=True)
    frozen = models.BooleanField(default=False)
    calls = models.PositiveBigIntegerField(default=0)
    verdict_code = models.CharField(max_length=24)
    verdict_sentence = models.TextField()
    data = models.JSONField(help_text="Everything shown: per variant, guardrails, SRM, plan.")

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["experiment", "-computed_at"], name="snapshot_latest")]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment"], condition=models.Q(frozen=True), name="one_frozen_snapshot"
            )
        ]

    def __str__(self):
        return f"{self.experiment} at {self.computed_at:%Y-%m-%d %H:%M}"
