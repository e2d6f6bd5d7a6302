from django.db import models
from django.db.models import F, Q

from apps.agents.models import Agent
from apps.experiments.models import Experiment, Variant

MAX_LATENCY_MS = 600_000  # ten minutes: beyond that the agent did not answer at all
MAX_COST_USD = 10_000.0
MAX_TOKENS = 1_000_000_000
MAX_COUNT = 10_000  # tool calls, tool errors, interruptions in one call


class EndedBy(models.TextChoices):
    CALLER = "caller", "The caller hung up"
    AGENT = "agent", "The agent ended the call"
    TRANSFER = "transfer", "Transferred to a person"
    ERROR = "error", "An error ended the call"


class Call(models.Model):
    """One conversation reported by a router. (agent, call_id) identifies it: reporting the
    same call again updates it, never counts it twice."""

    # No single-column indexes on the foreign keys: the composite indexes below start with
    # them and serve the same lookups, and every index costs each inserted call.
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="calls", db_index=False)
    call_id = models.CharField(max_length=128, help_text="The router's own id for the call.")
    experiment = models.ForeignKey(
        Experiment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        db_index=False,
    )
    variant = models.ForeignKey(
        Variant,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        db_index=False,
    )
    caller = models.CharField(max_length=256)
    started_at = models.DateTimeField()
    duration_seconds = models.FloatField(null=True, blank=True)
    converted = models.BooleanField(null=True, blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    transferred = models.BooleanField(null=True, blank=True)
    completed = models.BooleanField(null=True, blank=True)
    response_latency_ms = models.FloatField(
        null=True, blank=True, help_text="The agent's mean response time in the call, in ms."
    )
    cost_usd = models.FloatField(
        null=True, blank=True, help_text="What the call cost (model, voice, phone), in US$."
    )
    tokens_in = models.BigIntegerField(null=True, blank=True, help_text="Model input tokens.")
    tokens_out = models.BigIntegerField(null=True, blank=True, help_text="Model output tokens.")
    tool_calls = models.PositiveIntegerField(null=True, blank=True, help_text="Tools called.")
    tool_errors = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tool calls that failed (at most tool_calls)."
    )
    interruptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Times the caller talked over the agent."
    )
    ended_by = models.CharField(
        max_length=8,
        blank=True,
        db_default="",  # rows written by plain SQL (bulk loads) need no value
        choices=EndedBy.choices,
        help_text="Who ended the call: caller, agent, transfer or error; empty = not reported.",
    )
    end_reason = models.CharField(
        max_length=100,
        blank=True,
        db_default="",
        help_text="Why the call ended, in a few words (voicemail).",
    )
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
            # 0 to a day, as the call report schema says (apps/calls/schemas.py). In
            # PostgreSQL NaN is above every number, so this also refuses NaN and Infinity.
            models.CheckConstraint(
                condition=Q(duration_seconds__isnull=True)
                | Q(duration_seconds__gte=0, duration_seconds__lte=86_400),
                name="call_duration_range",
            ),
            # As the call report schema says (apps/calls/schemas.py); NaN fails them too.
            models.CheckConstraint(
                condition=Q(response_latency_ms__isnull=True)
                | Q(response_latency_ms__gte=0, response_latency_ms__lte=MAX_LATENCY_MS),
                name="call_response_latency_range",
            ),
            models.CheckConstraint(
                condition=Q(cost_usd__isnull=True) | Q(cost_usd__gte=0, cost_usd__lte=MAX_COST_USD),
                name="call_cost_range",
            ),
            models.CheckConstraint(
                condition=Q(tokens_in__isnull=True)
                | Q(tokens_in__gte=0, tokens_in__lte=MAX_TOKENS),
                name="call_tokens_in_range",
            ),
            models.CheckConstraint(
                condition=Q(tokens_out__isnull=True)
                | Q(tokens_out__gte=0, tokens_out__lte=MAX_TOKENS),
                name="call_tokens_out_range",
            ),
            # A report that sets one of the two keeps the other as stored: checked together.
            models.CheckConstraint(
                condition=Q(tool_errors__isnull=True)
                | Q(tool_calls__isnull=True)
                | Q(tool_errors__lte=F("tool_calls")),
                name="call_tool_errors_at_most_tool_calls",
            ),
        ]
        indexes = [
            # Per-experiment aggregation: one GROUP BY variant over an experiment's calls.
            models.Index(fields=["experiment", "variant"], name="call_experiment_variant"),
            # The calls lists (apps/calls/selectors.py) page by keyset: WHERE scope AND
            # (sort, id) beyond the cursor ORDER BY sort, id LIMIT 51. Each (scope, sort)
            # pair the page offers has its index, so every page, the first or the
            # thousandth, starts reading at its cursor and stops after 51 matching calls,
            # however many calls there are. `id` is in each index so that ties in the sort
            # column need no sort step. Both directions read the same index (backwards).
            # The started_at ones also serve calls per day and date ranges; they replace
            # (experiment, started_at) and (agent, started_at), of which they are supersets.
            models.Index(fields=["experiment", "started_at", "id"], name="call_exp_started_id"),
            models.Index(
                fields=["experiment", "duration_seconds", "id"], name="call_exp_duration_id"
            ),
            models.Index(fields=["experiment", "sentiment", "id"], name="call_exp_sentiment_id"),
            models.Index(fields=["agent", "started_at", "id"], name="call_agent_started_id"),
            models.Index(fields=["agent", "duration_seconds", "id"], name="call_agent_duration_id"),
            models.Index(fields=["agent", "sentiment", "id"], name="call_agent_sentiment_id"),
            # "Only variant B, newest first": a variant is in one experiment, so this also
            # narrows the experiment's list. Other filters (converted, transferred, ranges)
            # are checked while walking the sort's index: cheap while they keep a fair share
            # of the calls; a filter that keeps almost none walks far (see the selector).
            models.Index(fields=["variant", "started_at", "id"], name="call_variant_started_id"),
        ]

    def __str__(self):
        return f"{self.agent.name} call {self.call_id}"
