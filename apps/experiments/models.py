import secrets
from datetime import datetime

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property

from apps.agents.models import Agent, PromptVersion
from apps.metrics import for_agent
from apps.metrics import segments as segment_names
from apps.metrics.segments import default_kept


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    APPLIED = "applied", "Applied"


class GoalKind:
    """The goal keys the code treats apart. Any metric key of apps.metrics.for_agent(agent)
    is a goal (apps/experiments/goals.py checks it); these name the special ones."""

    CUSTOM = "custom"  # the LLM judge's pass rate: it needs a criterion and a judge


DEFAULT_THRESHOLD_PERCENT = 3.0  # a guardrail's threshold when none is given


class Direction(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class Unit(models.TextChoices):
    CALLER = "caller", "Each caller keeps one variant"
    CALL = "call", "Each call is drawn anew"


def new_salt() -> str:
    return secrets.token_hex(8)


class Experiment(models.Model):
    """A test on one agent's prompt: hypothesis, goal, guardrails, variants and a status."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=120)
    description = models.TextField(
        blank=True, help_text="The hypothesis: what do you expect to happen, and why?"
    )
    goal_kind = models.CharField(
        max_length=100, help_text="The goal metric's key in apps.metrics.for_agent(agent)."
    )
    goal_direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.HIGHER
    )
    goal_criteria = models.TextField(blank=True, help_text="For a custom goal: what passes.")
    guardrails = models.JSONField(
        default=list,
        blank=True,
        help_text="Metrics that must not get worse, each with its own threshold: "
        "[{metric, threshold_percent}]. A variant significantly worse by more than the "
        "threshold is paused, read on the metric's own scale (apps.stats.scales): 3 = 3 "
        "percentage points of a rate, 0.03 points of sentiment, 3% of the control's mean "
        "otherwise. Also the margin a winner must be shown within before it is safe to apply.",
    )
    secondary = models.JSONField(
        default=list,
        blank=True,
        help_text="Metrics reported beside the goal, corrected for looking at several "
        "(Benjamini-Hochberg); they never decide the experiment.",
    )
    segments = models.JSONField(
        default=default_kept,
        blank=True,
        help_text="Segments kept up to date with every result (apps.metrics.segments): their "
        "tables are computed in the results' own scan of the calls. Any other segment is "
        "computed when someone asks for it.",
    )
    min_lift = models.FloatField(
        default=0.05,
        help_text="Smallest change worth detecting: relative for rates and duration "
        "(0.05 = 5%), in points on the -1..1 scale for sentiment (0.05 = 0.05 points).",
    )
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.CALLER)
    min_calls_per_arm = models.PositiveIntegerField(
        default=100, help_text="No verdict before every variant has this many calls."
    )
    sequential_tuning = models.PositiveIntegerField(
        default=5000, help_text="N*: the sample size where the always-valid range is tightest."
    )
    cap_duration = models.BooleanField(
        default=False, help_text="Cap call durations at the 99th percentile (outliers)."
    )
    judge_base_url = models.URLField(
        blank=True, help_text="Chat-completions endpoint of the LLM judge; empty = the site's."
    )
    judge_model = models.CharField(
        max_length=100, blank=True, help_text="The judge's model; empty = the site's."
    )
    judging_paused_reason = models.TextField(
        blank=True, help_text="Why judging is paused (the endpoint refused); empty = running."
    )
    optimize = models.BooleanField(
        default=False,
        help_text="Optimize mode: traffic shifts to the best variant "
        "(Thompson sampling) instead of a fixed split.",
    )
    ramp = models.BooleanField(
        default=False,
        help_text="Ramp up: the variants start at 5% and widen (25%, then the split set at "
        "start) while their guardrails are shown safe.",
    )
    ramp_target = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="With a ramp: the split set at start, {variant key: percent}, that the "
        "variants widen to step by step; empty otherwise.",
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    weights_version = models.PositiveIntegerField(
        default=1, help_text="Goes up by one with every change of the traffic split."
    )
    bucket_layout = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Which variant owns which of the 10,000 buckets: [start, end, variant id] "
        "ranges, set at start and moved minimally by every split change; empty = the "
        "consecutive ranges of the weights (a draft, or one started before layouts).",
    )
    phases = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Each period of one traffic split while running: [{number, started_at, "
        "weights: {variant id: percent}}], oldest first. Results are analysed per phase "
        "and combined, so a split change cannot make one variant look better.",
    )
    winner = models.ForeignKey(
        "experiments.Variant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    results_error = models.TextField(
        blank=True,
        editable=False,
        help_text="Why the latest results could not be computed; empty once they could.",
    )
    results_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"],
                condition=Q(status="running"),
                name="one_running_experiment_per_agent",
            ),
        ]
        permissions = [
            ("run_experiment", "Can start and stop experiments"),
            ("apply_winner", "Can apply a winning variant"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("experiments:detail", args=[self.pk])

    @property
    def judge(self) -> tuple[str, str]:
        """(base URL, model) of the LLM judge for this experiment; empty when unconfigured."""
        from django.conf import settings

        return (
            self.judge_base_url or settings.JUDGE_BASE_URL,
            self.judge_model or settings.JUDGE_MODEL,
        )

    @property
    def metrics(self) -> dict:
        """Every metric this experiment can use, by key (apps.metrics.for_agent)."""
        return for_agent(self.agent_id)

    @property
    def goal_metric(self):
        return self.metrics.get(self.goal_kind)

    @property
    def goal_label(self) -> str:
        metric = self.goal_metric
        return metric.title if metric else self.goal_kind

    @property
    def phase_starts(self) -> list[datetime]:
        """When each phase of the split started, oldest first (results group calls by it)."""
        return [datetime.fromisoformat(p["started_at"]) for p in self.phases]

    @property
    def guardrail_thresholds(self) -> dict[str, float]:
        """Each guardrail's metric key -> its threshold in percent, in the stored order."""
        out = {}
        for guard in self.guardrails:
            if isinstance(guard, str):  # a row not yet in the per-guardrail shape
                out[guard] = DEFAULT_THRESHOLD_PERCENT
            else:
                out[guard["metric"]] = float(guard["threshold_percent"])
        return out

    @property
    def guardrail_labels(self) -> list[str]:
        known = self.metrics
        return [known[g].title for g in self.guardrail_thresholds if g in known]

    @property
    def secondary_labels(self) -> list[str]:
        known = self.metrics
        return [known[key].title for key in self.secondary if key in known]

    @property
    def segment_titles(self) -> list[str]:
        """The kept segments' titles, or none where they are not computed (apps.results.
        segments.kept: a percentile goal, whose segments are shown on request only, or the
        embedded database)."""
        goal = self.goal_metric
        if (goal is not None and goal.kind == "quantile") or connection.vendor != "postgresql":
            return []
        titles = []
        for key in self.segments or ():
            try:
                titles.append(segment_names.parse(key).title)
            except segment_names.SegmentError:
                continue
        return titles

    @property
    def control(self):
        return self.variants.get(is_control=True)


class Variant(models.Model):
    """One arm of an experiment: a prompt version, optional overrides and a traffic weight."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(max_length=16)
    name = models.CharField(max_length=120)
    prompt_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    config_overrides = models.JSONField(default=dict, blank=True)
    weight = models.PositiveSmallIntegerField(default=0)
    is_control = models.BooleanField(default=False)
    paused_weight = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The weight it had before an automatic pause."
    )
    paused_reason = models.TextField(blank=True, help_text="Why it was paused automatically.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["experiment", "-is_control", "key"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="variant_key_unique"),
            models.UniqueConstraint(
                fields=["experiment"], condition=Q(is_control=True), name="one_control_variant"
            ),
            models.CheckConstraint(condition=Q(weight__lte=100), name="variant_weight_0_100"),
        ]

    def __str__(self):
        return f"{self.name} ({self.key})"

    @property
    def paused(self) -> bool:
        return self.weight == 0


class ResultSnapshot(models.Model):
    """The statistics of an experiment at one moment. Pages and the API read the latest one,
    so showing results costs the same at a thousand calls or ten million. The snapshot
    taken when an experiment stops is frozen: later calls never change it."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="snapshots"
    )
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

    @cached_property
    def result(self):
        """`data` as the typed Result (apps.results.result), whatever version stored it.

        The one import of apps.results here, late: that module is plain frozen dataclasses
        importing nothing from Django or apps, so reading it adds no loop between the apps."""
        from apps.results.result import Result

        return Result.from_json(self.data)


class ApplyRequest(models.Model):
    """An operator asking a manager to apply a variant: who asked, which variant, a note.

    Pending until a manager applies the experiment (whichever variant) or declines the
    request; at most one is pending per experiment, so a manager reads one question, not a
    pile of repeats."""

    PENDING, APPLIED, DECLINED = "pending", "applied", "declined"
    STATES = [(PENDING, "Waiting for a manager"), (APPLIED, "Applied"), (DECLINED, "Declined")]

    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="apply_requests"
    )
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    state = models.CharField(max_length=8, choices=STATES, default=PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answer = models.TextField(blank=True, help_text="The manager's words when declining.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(state="pending"),
                name="one_pending_apply_request",
            )
        ]

    def __str__(self):
        return f"Apply {self.variant.name} in {self.experiment}"
