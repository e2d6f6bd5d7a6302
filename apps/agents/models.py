import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class Digest(models.TextChoices):
    """How often the agent's KPI digest goes to the alert webhook and email
    (apps/results/digest.py): never, every hour, or once a day at DIGEST_HOUR."""

    OFF = "off", "Off"
    HOURLY = "hourly", "Every hour"
    DAILY = "daily", "Once a day"


MAX_REHEARSAL_MARGIN = 0.5  # a wider margin would wave any variant through the gate


class Agent(models.Model):
    """One voice agent, e.g. "Front desk": its current prompt and default configuration."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    config = models.JSONField(
        default=dict, blank=True, help_text="Default configuration: model, voice, temperature..."
    )
    current_version = models.ForeignKey(
        "agents.PromptVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    digest = models.CharField(
        max_length=8,
        choices=Digest.choices,
        default=Digest.OFF,
        help_text="How often a summary of running experiments is sent to the alert channels.",
    )
    # The start of the digest period last claimed (apps/results/digest.py): a sender claims a
    # period by moving this forward in one conditional UPDATE, so a period is sent once.
    digest_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    rehearsal_margin = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.0), MaxValueValidator(MAX_REHEARSAL_MARGIN)],
        help_text="How much worse than control a variant may rehearse before the start gate "
        "refuses it, as a share of scenarios passed: 0.05 = 5 points, read on the lower end "
        "of the paired interval (apps/rehearsals/gate.py).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    rehearsal_margin__gte=0, rehearsal_margin__lte=MAX_REHEARSAL_MARGIN
                ),
                name="agent_rehearsal_margin_range",
            ),
            models.CheckConstraint(
                condition=models.Q(digest__in=["off", "hourly", "daily"]), name="agent_digest_known"
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("agents:detail", args=[self.slug])


def prompt_sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class ImmutableError(ValidationError):
    pass


class PromptVersion(models.Model):
    """An immutable revision of an agent's prompt. A change makes a new version.

    The model refuses updates and deletes, and so does the database (see migration 0002).
    """

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    sha256 = models.CharField(max_length=64, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["agent", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "number"], name="prompt_version_number_unique")
        ]

    def __str__(self):
        return f"{self.agent.name} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("Prompt versions never change; save a new version instead.")
        self.sha256 = prompt_sha256(self.body)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("Prompt versions are kept forever and cannot be deleted.")

    @property
    def label(self) -> str:
        return f"v{self.number}"
