"""An agent's own metrics: a post-call field the router reports, made into a metric."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.metrics import Metric
from apps.metrics.fields import FIELD, KEY, QUANTILES, value_sql


class FieldType(models.TextChoices):
    BOOLEAN = "boolean", "Yes/no (true or false)"
    NUMBER = "number", "Number"


class Aggregate(models.TextChoices):
    RATE = "rate", "Share of calls where it is true"
    MEAN = "mean", "Average per call"
    P50 = "p50", "Median (half the calls are below)"
    P95 = "p95", "95th percentile (the slowest or biggest 5%)"


class CustomMetric(models.Model):
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.CASCADE, related_name="custom_metrics"
    )
    key = models.CharField(
        max_length=32,
        help_text="The metric's id: lower-case letters, "
        "digits and underscores, e.g. booked_appointment.",
    )
    name = models.CharField(max_length=80, help_text="Shown to people, e.g. “Booked a visit”.")
    field = models.CharField(max_length=64, help_text="The post-call field it reads.")
    type = models.CharField(max_length=8, choices=FieldType.choices)
    direction = models.CharField(
        max_length=8, choices=[("higher", "Higher is better"), ("lower", "Lower is better")]
    )
    aggregate = models.CharField(max_length=8, choices=Aggregate.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "key"], name="custommetric_agent_key"),
            # The key and field become SQL (an alias and a string literal): whatever writes a
            # row, the database itself refuses anything but plain names.
            models.CheckConstraint(
                condition=Q(key__regex=rf"^{KEY.pattern}$"), name="custommetric_key_plain"
            ),
            models.CheckConstraint(
                condition=Q(field__regex=rf"^{FIELD.pattern}$"), name="custommetric_field_plain"
            ),
            models.CheckConstraint(
                condition=Q(type="boolean", aggregate="rate")
                | Q(type="number", aggregate__in=["mean", "p50", "p95"]),
                name="custommetric_type_aggregate",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.key})"

    def as_metric(self, vendor: str) -> Metric:
        """This metric in the registry's shape, its SQL for the database `vendor`."""
        rate = self.type == FieldType.BOOLEAN
        return Metric(
            key=self.key,
            title=self.name,
            label=self.name if self.name[:2].isupper() else self.name[:1].lower() + self.name[1:],
            kind="rate" if rate else ("quantile" if self.aggregate in QUANTILES else "mean"),
            scale="rate" if rate else "count",
            direction=self.direction,
            value=value_sql(self.field, self.type, vendor),
            columns=("fields",),
            goal=True,
            guardrail=True,
            quantile=QUANTILES.get(self.aggregate),
        )
