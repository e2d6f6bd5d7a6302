from django.db import models
from django.db.models import Q

from apps.agents.models import Agent
from apps.experiments.models import Experiment, Variant


class Call(models.Model):
    """One conversation reported by a router. (agent, call_id) identifies it: reporting the
    same call again updates it, never counts it twice."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="calls")
    call_id = models.CharField(max_length=128, help_text="The router's own id for the call.")
    experiment = models.ForeignKey(
        Experiment, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    caller = models.CharField(max_length=256)
    started_at = models.DateTimeField()
    duration_seconds = models.FloatField(null=True, blank=True)
    converted = models.BooleanField(null=True, blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    transferred = models.BooleanField(null=True, blank=True)
    completed = models.BooleanField(null=True, blank=True)
    transcript = models.JSONField(default=list, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    after_stop = models.BooleanField(
        default=False, help_text="Reported after its experiment stopped; not in frozen results."
    )
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "call_id"], name="call_id_unique_per_agent"),
            models.CheckConstraint(
                condition=Q(sentiment__isnull=True) | Q(sentiment__gte=-1, sentiment__lte=1),
                name="call_sentiment_range",
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__isnull=True) | Q(duration_seconds__gte=0),
                name="call_duration_not_negative",
            ),
        ]
        indexes = [
            # Per-experiment aggregation: one GROUP BY variant over an experiment's calls.
            models.Index(fields=["experiment", "variant"], name="call_experiment_variant"),
            models.Index(fields=["experiment", "started_at"], name="call_experiment_started"),
            models.Index(fields=["agent", "started_at"], name="call_agent_started"),
        ]

    def __str__(self):
        return f"{self.agent.name} call {self.call_id}"
