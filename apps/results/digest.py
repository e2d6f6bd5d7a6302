"""The KPI digest: each running experiment of an agent, in plain words, every hour or day.

For each running experiment it reads the latest stored result snapshot (never the calls) and
says the goal's change per variant with its always-valid range, each guardrail's status, the
progress toward the planned units, and the variants paused since the last digest (from the
audit log). The words and formats are the results page's own (apps.results.card,
apps.results.scorecard). It goes out through the alert channels (apps.results.safety
`alert_send`: the Slack-compatible webhook as {"text": ...} and email), with their bounded
timeouts.

Sent at most once per period: the beat task claims the period by moving the agent's
`digest_sent_at` forward under a row lock, and the message to send is written to the outbox
in the same transaction. A second worker (or a rerun) finds the period claimed and sends
nothing; the send task is not retried, since a webhook that timed out may have posted.
"""

import logging
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.agents.models import Agent, Digest
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment, Status
from apps.results.card import in_unit, unit_word
from apps.results.result import Plan
from apps.results.scorecard import scorecard
from apps.results.selectors import latest_snapshot
from config.celery import queue_after_commit

log = logging.getLogger(__name__)
PERIOD = {Digest.HOURLY: timedelta(hours=1), Digest.DAILY: timedelta(days=1)}
PAUSES = ("variant.pause", "experiment.weights")  # the actions that can set a weight to 0
GOAL_STATE = {"better": "better", "worse": "worse", "not_yet": "no clear difference yet"}
GUARD_STATE = {
    "worse": "worse",
    "safe": "shown to be no worse",
    "not_yet": "not yet shown to be no worse",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def period_start(frequency: str, now: datetime) -> datetime | None:
    """The start of the digest period `now` falls in, in TIME_ZONE: the hour, or the day
    from DIGEST_HOUR; None when the digest is off."""
    local = timezone.localtime(now)
    if frequency == Digest.HOURLY:
        return local.replace(minute=0, second=0, microsecond=0)
    if frequency == Digest.DAILY:
        start = local.replace(hour=settings.DIGEST_HOUR, minute=0, second=0, microsecond=0)
        return start if start <= local else start - timedelta(days=1)
    return None


def is_due(agent: Agent, now: datetime) -> bool:
    """Due when the period began after the last digest. A last digest dated after now (a
    clock set wrong once, year 9999) would silence the agent for good: then it is due too."""
    start = period_start(agent.digest, now)
    sent = agent.digest_sent_at
    return start is not None and (sent is None or sent < start or sent > now)


def digests_send_due(now: datetime | None = None) -> int:
    """Queue the digest of every agent whose period has come; how many were queued. One
    agent's failure (a broken snapshot) is logged and does not stop the others."""
    now = now or timezone.now()
    queued = 0
    for agent_id in Agent.objects.exclude(digest=Digest.OFF).values_list("pk", flat=True):
        try:
            queued += digest_claim(agent_id=agent_id, now=now)
        except Exception:
            log.exception("The digest of agent %s could not be composed", agent_id)
    return queued


@transaction.atomic
def digest_claim(*, agent_id: int, now: datetime) -> bool:
    """Claim the agent's current period and queue its digest, in one transaction: the row
    lock makes a second claimer wait, then find the period taken. False when not due or
    when no experiment of the agent runs (the period is claimed all the same)."""
    agent = Agent.objects.select_for_update().filter(pk=agent_id).first()
    if agent is None or not is_due(agent, now):
        return False
    since = agent.digest_sent_at
    if since is None or since > now:
        since = now - PERIOD[agent.digest]
    agent.digest_sent_at = now
    agent.save(update_fields=["digest_sent_at"])
    text = digest_text(agent=agent, since=since, now=now)
    if not text:
        return False
    link = f"{settings.SITE_URL}{agent.get_absolute_url()}"
    subject = " ".join(f"Switchboard digest: {agent.name}".split())[:200]
    queue_after_commit("results.send_digest", text, link, subject, what="a digest")
    return True


def digest_text(*, agent: Agent, since: datetime, now: datetime) -> str:
    """The digest in plain text, the same for the webhook and for email; "" when none of the
    agent's experiments runs."""
    running = list(
        Experiment.objects.filter(agent=agent, status=Status.RUNNING)
        .prefetch_related("variants")
        .order_by("started_at", "pk")
    )
    if not running:
        return ""
    local = timezone.localtime(now)
    header = f"Switchboard digest for {plain(agent.name)}, {local:%d %b %Y, %H:%M} ({local:%Z})"
    text = "\n\n".join([header, *(experiment_block(e, since, now) for e in running)])
    # Names people typed also arrive inside labels and sentences (a custom metric's name, a
    # variant's name in the verdict): the digest writes no markup of its own, so no angle
    # bracket or control character in it may reach Slack as a mention or a link.
    return _CONTROL.sub(" ", text).replace("<", "\u2039").replace(">", "\u203a")


def plain(text: str) -> str:
    """A name as the digest writes it: on one line, with no control characters, and with no
    angle brackets, which Slack would read as a mention (<!channel>) or a link."""
    text = _CONTROL.sub(" ", str(text)).replace("<", "\u2039").replace(">", "\u203a")
    return " ".join(text.split())


def experiment_block(experiment: Experiment, since: datetime, now: datetime) -> str:
    lines = [f"{plain(experiment.name)} (goal: {experiment.goal_label.lower()})"]
    snapshot = latest_snapshot(experiment)
    if snapshot is None:
        lines.append("No results yet: they appear within minutes of the first calls.")
    else:
        lines += snapshot_lines(experiment, snapshot)
    lines += paused_lines(experiment, since, now)
    return "\n".join(lines)


def snapshot_lines(experiment: Experiment, snapshot) -> list[str]:
    result = snapshot.result
    names = {v.key: plain(v.name) for v in experiment.variants.all()}
    goal, *guards = scorecard(experiment, result)
    lines = [in_unit(snapshot.verdict_sentence, experiment)]
    lines += [_goal_line(experiment, goal, v, names) for v in goal["variants"]]
    for guard in guards:
        lines += [_guard_line(guard, v, names) for v in guard["variants"]]
    lines.append(progress_line(experiment, result.plan))
    computed = timezone.localtime(snapshot.computed_at)
    lines.append(f"(Results as of {computed:%d %b, %H:%M}.)")
    return lines


def _goal_line(experiment, row: dict, cell: dict, names: dict) -> str:
    name = names.get(cell["key"], plain(cell["name"]))
    if not cell["ok"]:
        return f"- {name}: not enough {unit_word(experiment)} yet to compare with the control."
    return (
        f"- {name}: {cell['change']} {row['label'].lower()} versus the control "
        f"(always-valid range {cell['range']}): {GOAL_STATE[cell['state']]}."
    )


def _guard_line(row: dict, cell: dict, names: dict) -> str:
    name = names.get(cell["key"], plain(cell["name"]))
    change = f" ({cell['change']})" if cell["ok"] else ""
    return f"- Guardrail {row['label'].lower()}, {name}: {GUARD_STATE[cell['state']]}{change}."


def progress_line(experiment: Experiment, plan: Plan) -> str:
    """Units so far (in the smallest variant) against the units planned per variant."""
    done, planned = plan.fewest_calls or 0, plan.calls_per_variant
    if not planned:
        return (
            f"Progress: {done:,} {unit_word(experiment, done)} in the smallest variant; "
            "the number needed is known once the control has a few more."
        )
    share = min(1.0, done / planned)
    line = f"Progress: {done:,} of {planned:,} {unit_word(experiment, planned)} per variant"
    line += f" ({share:.0%})"
    days = plan.days_left
    if days and share < 1:
        line += f", about {days:,} day{'s' if days != 1 else ''} to go at the current volume"
    return f"{line}."


def paused_lines(experiment: Experiment, since: datetime, now: datetime) -> list[str]:
    """Every variant whose weight went to 0 after the last digest and up to this one, so
    each pause is listed in exactly one digest."""
    names = {v.key: plain(v.name) for v in experiment.variants.all()}
    entries = AuditEntry.objects.filter(
        object_type="experiment",
        object_id=str(experiment.pk),
        action__in=PAUSES,
        created_at__gt=since,
        created_at__lte=now,
    ).order_by("created_at", "pk")
    lines = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        for key, weight in after.items():
            if weight == 0 and (before.get(key) or 0) > 0:
                when = timezone.localtime(entry.created_at)
                who = plain(entry.actor_label)
                why = plain(entry.reason) or f"its share was set to 0% by {who}"
                lines.append(f"- {names.get(key, plain(key))} was paused at {when:%H:%M}: {why}")
    return ["Paused since the last digest:", *lines] if lines else []
