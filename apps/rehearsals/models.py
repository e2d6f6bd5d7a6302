import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.agents.models import Agent, PromptVersion
from apps.calls.models import Call
from apps.experiments.models import Experiment

MIN_TURNS, MAX_TURNS = 2, 60


class Scenario(models.Model):
    """One rehearsal of an agent: who calls, what they want, what they know, and the checks
    the agent's side of the conversation must pass. With replay_turns the caller's turns are
    played verbatim (a real call replayed); without, a model plays the persona."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=100)
    persona = models.TextField(help_text="Who the caller is and how they talk.")
    goal = models.TextField(help_text="What the caller wants from the call.")
    facts = models.JSONField(default=dict, blank=True, help_text="What the caller knows.")
    max_turns = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(MIN_TURNS), MaxValueValidator(MAX_TURNS)]
    )
    checks = models.JSONField(default=list, blank=True)
    replay_turns = models.JSONField(default=list, blank=True)
    source_call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_sha256 = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agent", "name"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "name"], name="scenario_name_unique"),
            models.CheckConstraint(
                condition=Q(max_turns__gte=MIN_TURNS, max_turns__lte=MAX_TURNS),
                name="scenario_max_turns_range",
            ),
        ]

    def __str__(self):
        return f"{self.agent.name}: {self.name}"

    def save(self, *args, **kwargs):
        canonical = json.dumps(self.content(), sort_keys=True, ensure_ascii=False)
        self.content_sha256 = hashlib.sha256(canonical.encode()).hexdigest()
        super().save(*args, **kwargs)

    def content(self) -> dict:
        """Everything that decides how the scenario plays and is checked (not its name)."""
        return {
            "persona": self.persona,
            "goal": self.goal,
            "facts": self.facts,
            "max_turns": self.max_turns,
            "checks": self.checks,
            "replay_turns": self.replay_turns,
        }


class Status(models.TextChoices):
    QUEUED = "queued", "Waiting to run"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped at the cost cap"


class Gate(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    RUNNING = "running", "Still running"


class Kind(models.TextChoices):
    COMPARISON = "comparison", "A variant against its control"
    NIGHTLY = "nightly", "The nightly health check of the current prompt"


class Evaluation(models.Model):
    """A variant's prompt and configuration compared with its control's on every scenario of
    the agent, each played `plays` times per arm. What was compared is snapshot (prompt
    SHA-256 and configuration), so a later change to either makes the evaluation stale."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="evaluations")
    experiment = models.ForeignKey(
        Experiment, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluations"
    )
    variant_prompt = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    variant_sha256 = models.CharField(max_length=64)
    variant_config = models.JSONField(default=dict, blank=True)
    control_prompt = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    control_sha256 = models.CharField(max_length=64)
    control_config = models.JSONField(default=dict, blank=True)
    scenario_ids = models.JSONField(default=list, help_text="The scenarios played, at start.")
    plays = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    margin = models.FloatField(
        default=0.05, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    kind = models.CharField(
        max_length=10, choices=Kind.choices, default=Kind.COMPARISON, db_index=True
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    gate = models.CharField(max_length=8, choices=Gate.choices, default=Gate.RUNNING)
    cost_usd = models.FloatField(default=0.0)
    cost_cap_usd = models.FloatField(validators=[MinValueValidator(0.0)])
    error = models.TextField(blank=True)
    results = models.JSONField(null=True, blank=True, help_text="EvaluationResults, serialised.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["agent", "variant_sha256", "control_sha256", "-created_at"],
                name="evaluation_compared",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="evaluation_status_known"
            ),
            models.CheckConstraint(condition=Q(gate__in=Gate.values), name="evaluation_gate_known"),
            models.CheckConstraint(
                condition=Q(cost_usd__gte=0, cost_cap_usd__gte=0), name="evaluation_cost_positive"
            ),
        ]

    def __str__(self):
        return f"Evaluation {self.pk} of {self.agent.name}"


class Arm(models.TextChoices):
    CONTROL = "control", "Control"
    VARIANT = "variant", "Variant"


class Conversation(models.Model):
    """One simulated call of one scenario on one arm. `error` set = the conversation could
    not be played (timeout, malformed reply): counted apart, never as a fail."""

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="conversations"
    )
    scenario = models.ForeignKey(
        Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    scenario_name = models.CharField(max_length=100)
    arm = models.CharField(max_length=8, choices=Arm.choices)
    play = models.PositiveSmallIntegerField()
    transcript = models.JSONField(default=list, blank=True)
    outcomes = models.JSONField(
        default=list, blank=True, help_text="Per check: {label, kind, outcome, note}."
    )
    overall = models.CharField(max_length=8, blank=True, help_text="pass, fail, error or empty.")
    failing_turns = models.JSONField(default=list, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    reused = models.BooleanField(default=False, help_text="Copied from the cache, not played.")
    cache_key = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["evaluation", "scenario_name", "arm", "play"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "scenario", "arm", "play"], name="conversation_unique_play"
            ),
            models.CheckConstraint(condition=Q(arm__in=Arm.values), name="conversation_arm_known"),
        ]

    def __str__(self):
        return f"{self.scenario_name} ({self.arm}, play {self.play + 1})"


class GateOverride(models.Model):
    """A manager letting an experiment start although its rehearsal gate refuses. It holds
    only while the experiment compares exactly what it was given for (`fingerprint`: every
    variant's and the control's prompt SHA-256 and effective configuration)."""

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="gate_overrides"
    )
    fingerprint = models.CharField(max_length=64)
    reason = models.TextField()
    gate_state = models.JSONField(help_text="Each variant's rehearsal state when overridden.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Gate override of {self.experiment}"


class NightlyCheck(models.Model):
    """One night's health check of an agent's current prompt. The row is the claim: one per
    agent and night (the unique constraint), so two beats or workers never run it twice;
    `announced_at` is claimed the same way, so a drop is announced once."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="nightly_checks")
    night = models.DateField()
    evaluation = models.OneToOneField(
        Evaluation, null=True, blank=True, on_delete=models.SET_NULL, related_name="nightly"
    )
    prompt = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    pass_rate = models.FloatField(null=True, blank=True, help_text="Share of checked plays.")
    previous_rate = models.FloatField(null=True, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agent", "-night"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "night"], name="nightly_once_per_night")
        ]

    def __str__(self):
        return f"{self.agent.name} on {self.night}"
