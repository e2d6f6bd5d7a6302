"""Jobs that keep running experiments safe: guardrail auto-pause and optimize mode."""

from datetime import datetime

from django.conf import settings
from django.core.mail import mailers, send_mail

from apps.experiments.goals import threshold_words
from apps.experiments.models import Experiment, Status
from apps.experiments.services import variant_pause, weights_set
from apps.results.result import GuardrailChange, GuardrailResult
from apps.stats.thompson import thompson_weights
from config.celery import queue_after_commit

OPTIMIZER = "optimizer"
GUARD = "guardrail job"


def guardrails_enforce(*, experiment: Experiment, snapshot) -> list[str]:
    """Pause every variant whose guardrail is significantly worse than control by more than
    that guardrail's own threshold; returns the keys paused now. Safe to run twice.

    The change is measured in the guardrail's own unit (apps.stats.scales): a relative change
    of sentiment flips sign with a negative control mean, so a worse variant was never paused.
    """
    paused = []
    weights = {v.key: v.weight for v in experiment.variants.all()}
    for guardrail in snapshot.result.guardrails:
        for row in guardrail.variants:
            if row.key in guardrail.worse and weights.get(row.key) and _beyond(guardrail, row):
                reason = _reason(experiment, guardrail, row)
                variant_pause(experiment=experiment, variant_key=row.key, reason=reason, user=GUARD)
                notify(experiment=experiment, text=reason)  # sent once the pause commits
                weights[row.key] = 0
                paused.append(row.key)
    return paused


def _beyond(guardrail: GuardrailResult, row: GuardrailChange) -> bool:
    """Worse by more than the threshold, both in the metric's unit (computed by analysis
    from the guardrail's own threshold: points for rates and sentiment, a share of the
    control's mean otherwise)."""
    limit = guardrail.threshold
    if row.worse_by is None or limit is None:
        return False  # a snapshot from before units: the next one (a minute away) decides
    return row.worse_by > limit


def _reason(experiment: Experiment, guardrail: GuardrailResult, row: GuardrailChange) -> str:
    metric, percent = experiment.metrics.get(guardrail.metric), guardrail.threshold_percent
    limit = (
        ""
        if metric is None or percent is None
        else f" (its limit: {threshold_words(metric, percent)})"
    )
    return (
        f"Variant {row.key.upper()} was paused automatically: its {guardrail.label} is "
        f"{row.change_text} than the control's{limit}, and that is very unlikely to be "
        "chance. Its callers now get the control prompt."
    )


def notify(*, experiment: Experiment, text: str) -> None:
    """Tell people: a Slack-compatible webhook and email, when configured."""
    # Through the outbox: the alert commits with the pause, and Redis being away delays it
    # rather than losing it.
    message = f"{experiment.agent.name} · {experiment.name}: {text}"
    link = f"{settings.SITE_URL}{experiment.get_absolute_url()}"
    queue_after_commit("results.send_alert", message, link, what="an alert")


def alert_send(*, text: str, link: str, subject: str = "Switchboard: a variant was paused") -> None:
    import httpx

    if settings.ALERT_WEBHOOK_URL:
        response = httpx.post(
            settings.ALERT_WEBHOOK_URL, json={"text": f"{text} {link}"}, timeout=10
        )
        response.raise_for_status()
    if "default" in mailers and settings.ALERT_EMAILS:  # MAILERS is empty without EMAIL_HOST
        send_mail(
            subject,
            f"{text}\n\n{link}",
            settings.DEFAULT_FROM_EMAIL,
            settings.ALERT_EMAILS,
        )


def optimize_rebalance(*, experiment: Experiment, arms: list, now: datetime) -> dict | None:
    """Thompson-sampling weights for an experiment in optimize mode, once every arm has 100
    units; `arms` are (key, successes, units) of the goal. Returns the weights set, or None."""
    goal = experiment.goal_metric
    if not experiment.optimize or goal is None or not goal.optimizable:
        return None
    if experiment.status != Status.RUNNING or any(units < 100 for _, _, units in arms):
        return None
    seed = experiment.pk * 1_000_003 + int(now.timestamp() // 3600)
    weights = thompson_weights([s for _, s, _ in arms], [n for *_, n in arms], seed=seed)
    new = {v.key: 0 for v in experiment.variants.all()}  # paused variants stay at 0
    new.update({key: w for (key, _, _), w in zip(arms, weights, strict=True)})
    weights_set(experiment=experiment, weights=new, user=OPTIMIZER)
    return new
