from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from apps.agents.models import Agent
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment, GoalKind, ResultSnapshot, Status, Variant
from apps.stats.scales import format_change


def experiments_for_list(*, status: str = "", query: str = ""):
    latest = ResultSnapshot.objects.filter(experiment=OuterRef("pk")).order_by(
        "-frozen", "-computed_at", "-id"
    )  # as latest_snapshot(): the frozen one of a stopped experiment, else the newest
    experiments = Experiment.objects.select_related("agent", "winner").annotate(
        variant_count=Count("variants"), snapshot_id=Subquery(latest.values("pk")[:1])
    )
    if status in Status.values:
        experiments = experiments.filter(status=status)
    if query:
        experiments = experiments.filter(
            Q(name__icontains=query)
            | Q(agent__name__icontains=query)
            | Q(description__icontains=query)
        )
    return experiments.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Standing:
    """Where an experiment stands, as its list row shows it: from its latest snapshot."""

    days: int | None  # whole days it has run (until it stopped); None before the start
    progress: float | None  # share of the planned units the smallest variant has, 0..1
    leader: str  # the variant with the best change; "" before any result
    change: str  # the leader's change on the goal's own scale: "+2.1 points"
    verdict: str  # the leader's verdict code (or the experiment's): "winning", ...


def experiments_with_standing(experiments) -> list:
    """The experiments of :func:`experiments_for_list`, each with a ``standing``: one more
    query for all of their snapshots together, reading only the parts the list shows."""
    experiments = list(experiments)
    ids = [e.snapshot_id for e in experiments if e.snapshot_id]
    snapshots = {
        row["pk"]: row
        for row in ResultSnapshot.objects.filter(pk__in=ids).values(
            "pk",
            "verdict_code",
            progress=KT("data__plan__progress"),
            best=KT("data__best"),
            goal=KT("data__goal"),
            direction=KT("data__direction"),
            variants=F("data__variants"),
        )
    }
    for experiment in experiments:
        experiment.standing = _standing(experiment, snapshots.get(experiment.snapshot_id))
    return experiments


def _days_running(experiment) -> int | None:
    if experiment.started_at is None:
        return None
    return ((experiment.stopped_at or timezone.now()) - experiment.started_at).days


def _standing(experiment, snapshot: dict | None) -> Standing:
    days = _days_running(experiment)
    if snapshot is None:
        return Standing(days, None, "", "", "")
    rows = snapshot["variants"] or []
    control = next((v for v in rows if v.get("is_control")), {})
    changes = {v["key"]: _absolute(v, control) for v in rows if not v.get("is_control")}
    measured = [v for v in rows if changes.get(v["key"]) is not None]
    sign = -1 if snapshot["direction"] == "lower" else 1
    leader = next((v for v in measured if v["key"] == snapshot["best"]), None) or max(
        measured, key=lambda v: sign * changes[v["key"]], default=None
    )
    progress = snapshot["progress"]
    progress = float(progress) if progress not in (None, "") else None
    if leader is None:
        return Standing(days, progress, "", "", snapshot["verdict_code"])
    goal = snapshot["goal"] or experiment.goal_kind
    change = format_change(changes[leader["key"]], goal, signed=True)
    verdict = (leader.get("verdict") or {}).get("code") or snapshot["verdict_code"]
    return Standing(days, progress, leader["name"], change, verdict)


def _absolute(row: dict, control: dict) -> float | None:
    """The variant's change against the control in the metric's unit, as the snapshot
    states it; a snapshot stored before changes were absolute gives the two means."""
    lift = row.get("lift")
    if isinstance(lift, dict) and lift.get("absolute") is not None:
        return lift["absolute"]
    if lift is not None and row.get("mean") is not None and control.get("mean") is not None:
        return row["mean"] - control["mean"]
    return None


def experiments_for_page():
    variants = Variant.objects.select_related("prompt_version").order_by("-is_control", "key")
    return Experiment.objects.select_related(
        "agent__current_version", "winner", "created_by"
    ).prefetch_related(Prefetch("variants", queryset=variants))


def latest_snapshot(experiment):
    """The frozen snapshot of a stopped experiment, else the newest one."""
    frozen = experiment.snapshots.filter(frozen=True).first()
    return frozen or experiment.snapshots.order_by("-computed_at", "-id").first()


def variant_verdict(experiment, key: str) -> dict | None:
    """The variant's stored verdict, which the apply check reads. "winning" means every
    guardrail is shown to be no worse than its threshold; a snapshot stored before that rule
    (its guardrails carry no "unproven" list) cannot say so, so such a winner reads as
    guardrail_pending: applying it needs a written reason."""
    snapshot = latest_snapshot(experiment)
    row = snapshot.result.variant(key) if snapshot is not None else None
    if row is None or row.verdict is None:
        return None
    verdict = asdict(row.verdict)
    if verdict["code"] == "winning" and not snapshot.result.guardrails_checked:
        sentence = verdict["sentence"].replace(" Safe to apply.", "")
        return {
            **verdict,
            "code": "guardrail_pending",
            "sentence": f"{sentence} Its guardrails were not yet checked to be no worse when "
            "these results were computed.",
        }
    return verdict


def agent_for_link(raw: str):
    """The agent a "New experiment on …" link names, by slug or by id; None when neither."""
    raw = (raw or "").strip()
    agents = Agent.objects.filter(current_version__isnull=False)
    agent = agents.filter(slug=raw).first() if raw else None
    if agent is None and raw.isdigit() and len(raw) < 19:
        agent = agents.filter(pk=int(raw)).first()
    return agent


def limits_for_draft(*, agent, goal_kind: str, experiment=None) -> list[str]:
    """What will keep a draft from starting, said while it is written: another experiment
    running on the agent, a custom goal with no LLM judge to score it (the experiment's own
    judge when it has one, else the site's)."""
    notes = []
    other = None
    if agent is not None:
        running = agent.experiments.filter(status=Status.RUNNING)
        other = running.exclude(pk=experiment and experiment.pk).first()
    if other is not None:
        notes.append(
            f"“{other.name}” is running on {agent.name} now. You can draft this one, but it "
            "can start only after that one stops: one experiment runs per agent at a time."
        )
    judge = experiment.judge if experiment else (settings.JUDGE_BASE_URL, settings.JUDGE_MODEL)
    if goal_kind == GoalKind.CUSTOM and not all(judge):
        notes.append(
            "A custom goal needs an LLM judge to score each call, and none is set up. You can "
            "draft it, but before it can start an administrator sets JUDGE_BASE_URL and "
            "JUDGE_MODEL for the site, or the experiment gets its own judge."
        )
    return notes


def start_limits(experiment) -> list[str]:
    """Why a draft cannot start yet, in words, before anyone presses Start."""
    if experiment.status != Status.DRAFT:
        return []
    return limits_for_draft(
        agent=experiment.agent, goal_kind=experiment.goal_kind, experiment=experiment
    )


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    who: str
    words: str
    kind: str  # drafted, started, split, paused, resumed, judge, stopped, applied, rolled_back


def experiment_timeline(experiment) -> list[TimelineEvent]:
    """What happened to the experiment, oldest first, from the audit log: drafted, started,
    split changed, a variant paused or resumed, the judge changed, stopped, applied and the
    agent's prompt rolled back from the winner. Editing a draft is left out: until the start
    nothing reached a caller."""
    entries = AuditEntry.objects.filter(
        Q(object_type="experiment", object_id=str(experiment.pk))
        | Q(object_type="applyrequest", after__experiment=experiment.pk)
    ).order_by("created_at", "id")
    names = {v.key: v.name for v in experiment.variants.all()}
    events, started = [], False
    for entry in entries:
        started = started or entry.action == "experiment.start"
        event = _timeline_event(entry, experiment, names, started)
        if event is not None:
            events.append(event)
    return events + _rollbacks(experiment)


def _name(names: dict, key: str) -> str:
    return names.get(key) or ("Control" if key == "control" else f"Variant {key.upper()}")


def _moved(entry) -> tuple[str | None, str | None]:
    """The variant a pause sent to 0% and the one a resume brought back from 0%."""
    before, after = entry.before or {}, entry.after or {}
    paused = next((k for k, w in after.items() if w == 0 and before.get(k)), None)
    resumed = next((k for k, w in after.items() if w and before.get(k) == 0), None)
    return paused, resumed


FIXED_WORDS = {
    "experiment.create": ("drafted", "Drafted the experiment"),
    "experiment.start": ("started", "Started it: routers began sending callers to the variants"),
    "experiment.stop": (
        "stopped",
        "Stopped it: every call went back to the control and the results were frozen",
    ),
    "judging.resume": ("judge", "Judging resumed"),
    "judging.criterion": ("judge", "Changed the judge's criterion"),
}


def _timeline_event(entry, experiment, names, started) -> TimelineEvent | None:
    after = entry.after or {}
    reason = f": “{entry.reason}”" if entry.reason else ""
    kind, words = FIXED_WORDS.get(entry.action, (None, ""))
    if entry.action == "experiment.weights" and started:
        ordered = sorted(after.items(), key=lambda item: (item[0] != "control", item[0]))
        split = ", ".join(f"{_name(names, k)} {w}%" for k, w in ordered)
        kind, words = "split", f"Changed the split to {split}"
    elif entry.action == "variant.pause":
        kind, words = "paused", f"Paused {_name(names, _moved(entry)[0] or '?')}{reason}"
    elif entry.action == "variant.resume":
        kind, words = "resumed", f"Resumed {_name(names, _moved(entry)[1] or '?')}"
    elif entry.action == "experiment.apply":
        version = f" (v{after['version']})" if after.get("version") else ""
        kind = "applied"
        words = (
            f"Applied {_name(names, after.get('variant', ''))}{version}: it became "
            f"{experiment.agent.name}'s prompt{reason}"
        )
    elif entry.action == "apply_request.create":
        kind = "asked"
        words = f"Asked a manager to apply {_name(names, after.get('variant', ''))}{reason}"
    elif entry.action == "apply_request.decline":
        kind, words = "asked", f"Declined the request to apply{reason}"
    elif "judg" in entry.action and kind is None:  # any change of the judge or its work
        kind, words = "judge", f"{entry.action_words[:1].upper()}{entry.action_words[1:]}{reason}"
    if kind is None:
        return None
    return TimelineEvent(at=entry.created_at, who=entry.actor_label, words=words, kind=kind)


def _rollbacks(experiment) -> list[TimelineEvent]:
    """Rollbacks of the agent's prompt away from this experiment's applied winner."""
    if experiment.status != Status.APPLIED or experiment.applied_at is None:
        return []
    version = experiment.winner.prompt_version.number
    entries = AuditEntry.objects.filter(
        object_type="agent",
        object_id=str(experiment.agent_id),
        action="prompt.rollback",
        created_at__gte=experiment.applied_at,
        before__version=version,
    ).order_by("created_at", "id")
    return [
        TimelineEvent(
            at=entry.created_at,
            who=entry.actor_label,
            words=f"Rolled {experiment.agent.name}'s prompt back from v{version} to "
            f"v{(entry.after or {}).get('version')}"
            + (f": “{entry.reason}”" if entry.reason else ""),
            kind="rolled_back",
        )
        for entry in entries
    ]
