"""The metric registry: every metric Switchboard knows, declared once.

A metric is what a variant is judged on: a goal, a guardrail, or (later) a secondary metric.
Each entry says how it is named, how one call's value is computed from the stored call (SQL
over `calls_call c`), how the values are analysed, which way is better and how a change is
written. Aggregation (apps/results/aggregation.py), analysis and safety (apps/results),
forms, the API and templates (apps/experiments) all read it here: adding a metric is one
entry below plus its tests.

Plain Python at the bottom of the import graph (like apps.stats and apps.audit), so every
app may read it; it imports only apps.stats.scales, to declare how each metric's change is
written.

Kinds (how values are analysed; all per assignment unit, see apps/results/aggregation.py):
- ``rate``: a yes/no per call; the share of calls (per caller: their share, as a ratio).
- ``mean``: a number per call; the mean per call.
- ``ratio``: a sum over a sum, e.g. successful tool calls over all tool calls, by the delta
  method (`weight` is the call's denominator).
- ``quantile``: the `quantile` (e.g. 0.95) of the calls' values.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.stats import scales

_YES = "CASE WHEN c.{0} IS NULL THEN NULL WHEN c.{0} THEN 1.0 ELSE 0.0 END"


def _within(column: str, low: float, high: float) -> str:
    """A number column's value, NULL when outside what a call can be (NaN included:
    PostgreSQL orders NaN above every number, so it fails the upper bound)."""
    return f"CASE WHEN c.{column} >= {low} AND c.{column} <= {high} THEN c.{column} END"


@dataclass(frozen=True)
class Metric:
    key: str
    title: str  # "Transfer rate": choices, column headings
    label: str  # "transfer rate": inside sentences
    kind: str  # "rate", "mean", "ratio" or "quantile" (module docstring)
    scale: str  # how a change is written: see apps.stats.scales.SCALES
    direction: str  # "higher" or "lower" is better
    value: str  # SQL: one call's value, NULL when the call did not report it
    columns: tuple[str, ...]  # the calls_call columns `value` and `weight` read
    weight: str | None = None  # SQL: the call's denominator (ratio); None = 1 per value
    phrase: str = "performs"  # "B <phrase> 2 points better"
    goal: bool = False  # offered as an experiment's goal
    optimizable: bool = False  # optimize mode (Thompson sampling on yes/no) can serve it
    guardrail: bool = True  # offered as a guardrail
    quantile: float | None = None  # a quantile metric's level, e.g. 0.95

    def __post_init__(self):
        if self.kind not in ("rate", "mean", "ratio", "quantile"):
            raise ValueError(f"metric {self.key}: kind must be rate, mean, ratio or quantile")
        if (self.kind == "quantile") != (self.quantile is not None and 0 < self.quantile < 1):
            raise ValueError(f"metric {self.key}: a quantile needs a level between 0 and 1")
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"metric {self.key}: direction must be higher or lower")
        if (self.kind == "ratio") != (self.weight is not None):
            raise ValueError(f"metric {self.key}: a ratio needs a weight, and only a ratio")
        scales.declare(self.key, self.scale)


MAX_DURATION_SECONDS = 86_400  # as the call report schema and the call_duration_range check

METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric(
            "conversion",
            "Conversion rate",
            "conversion rate",
            "rate",
            "rate",
            "higher",
            _YES.format("converted"),
            ("converted",),
            phrase="converts",
            goal=True,
            optimizable=True,
            guardrail=False,
        ),
        Metric(
            "sentiment",
            "Sentiment",
            "sentiment",
            "mean",
            "score",
            "higher",
            _within("sentiment", -1, 1),
            ("sentiment",),
            phrase="pleases callers",
            goal=True,
        ),
        Metric(
            "duration",
            "Call duration",
            "call duration",
            "mean",
            "seconds",
            "lower",
            "DURATION",  # the query puts the (maybe capped) valid duration here
            ("duration_seconds",),
            goal=True,
        ),
        Metric(
            "custom",
            "Pass rate (LLM judge)",
            "pass rate",
            "rate",
            "rate",
            "higher",
            "j.value",  # the judge's pass (1) or fail (0) under the current criterion
            (),
            phrase="meets the goal",
            goal=True,
            optimizable=True,
            guardrail=False,
        ),
        Metric(
            "transfer_rate",
            "Transfer rate",
            "transfer rate",
            "rate",
            "rate",
            "lower",
            _YES.format("transferred"),
            ("transferred",),
        ),
        Metric(
            "completion_rate",
            "Completion rate",
            "completion rate",
            "rate",
            "rate",
            "higher",
            _YES.format("completed"),
            ("completed",),
        ),
        Metric(
            "latency_mean",
            "Response time",
            "response time",
            "mean",
            "ms",
            "lower",
            _within("response_latency_ms", 0, 600_000),
            ("response_latency_ms",),
        ),
        Metric(
            "latency_p95",
            "95th percentile response time",
            "95th percentile response time",
            "quantile",
            "ms",
            "lower",
            _within("response_latency_ms", 0, 600_000),
            ("response_latency_ms",),
            quantile=0.95,
        ),
        Metric(
            "cost_per_call",
            "Cost per call",
            "cost per call",
            "mean",
            "usd",
            "lower",
            _within("cost_usd", 0, 10_000),
            ("cost_usd",),
        ),
        Metric(
            "tokens_per_call",
            "Tokens per call",
            "tokens per call",
            "mean",
            "count",
            "lower",
            "CASE WHEN c.tokens_in IS NULL AND c.tokens_out IS NULL THEN NULL "
            "ELSE COALESCE(c.tokens_in, 0) + COALESCE(c.tokens_out, 0) END",
            ("tokens_in", "tokens_out"),
        ),
        Metric(
            "tool_success_rate",
            "Tool success rate",
            "tool success rate",
            "ratio",
            "rate",
            "higher",
            "CASE WHEN c.tool_calls > 0 AND c.tool_errors IS NOT NULL "
            "THEN c.tool_calls - c.tool_errors END",
            ("tool_calls", "tool_errors"),
            weight="c.tool_calls",
        ),
        Metric(
            "interruptions_per_call",
            "Interruptions per call",
            "interruptions per call",
            "mean",
            "count",
            "lower",
            "c.interruptions",
            ("interruptions",),
        ),
        Metric(
            "caller_hangup_rate",
            "Caller hang-up rate",
            "caller hang-up rate",
            "rate",
            "rate",
            "lower",
            "CASE WHEN c.ended_by = '' THEN NULL WHEN c.ended_by = 'caller' THEN 1.0 ELSE 0.0 END",
            ("ended_by",),
        ),
        Metric(
            "error_end_rate",
            "Calls cut off by an error",
            "share of calls cut off by an error",
            "rate",
            "rate",
            "lower",
            "CASE WHEN c.ended_by = '' THEN NULL WHEN c.ended_by = 'error' THEN 1.0 ELSE 0.0 END",
            ("ended_by",),
        ),
    )
}


def get(key: str) -> Metric:
    """The metric of a key; KeyError names the known ones."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"no metric {key!r}; known: {', '.join(METRICS)}") from None


def for_agent(agent_id: int | None) -> dict[str, Metric]:
    """Every metric an experiment on this agent can use, by key: the built-in ones, then the
    agent's own custom-field metrics (apps/metrics/models.py; memoised per process, see
    apps/metrics/registry.py). A built-in key always means the built-in metric."""
    metrics = dict(METRICS)
    if agent_id is None:
        return metrics
    from apps.metrics.registry import custom_metrics  # needs the app registry: read lazily

    for key, metric in custom_metrics(agent_id).items():
        metrics.setdefault(key, metric)
    return metrics


def guardrail_keys() -> list[str]:
    return [m.key for m in METRICS.values() if m.guardrail]


def guardrail_choices() -> list[tuple[str, str]]:
    return [(m.key, m.title) for m in METRICS.values() if m.guardrail]


def call_columns() -> list[str]:
    """Every calls_call column some metric reads, once each, in declaration order."""
    seen: dict[str, None] = {}
    for metric in METRICS.values():
        seen.update(dict.fromkeys(metric.columns))
    return list(seen)
