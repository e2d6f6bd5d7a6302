from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import CharField, Count, F, FilteredRelation, Q
from django.db.models.functions import Cast

from apps.agents.diffing import PromptDiff, prompt_diff
from apps.agents.models import Agent, PromptVersion
from apps.audit.models import AuditEntry


def agents_for_list():
    """Agents with their version count and the experiment running on each, in one query (at
    most one runs per agent, a constraint, so the join adds no rows)."""
    running = FilteredRelation("experiments", condition=Q(experiments__status="running"))
    return (
        Agent.objects.select_related("current_version")
        .annotate(running=running)
        .annotate(
            version_count=Count("versions", distinct=True),
            running_id=F("running__pk"),
            running_name=F("running__name"),
        )
        .order_by("name")
    )


def agents_for_page():
    return Agent.objects.select_related("current_version__author")


def prompt_history(agent: Agent):
    return agent.versions.select_related("author", "parent").order_by("-number")


@dataclass(frozen=True)
class LivePeriod:
    """A stretch of time during which one version was the agent's current prompt."""

    number: int
    since: datetime
    until: datetime | None  # None: live now
    who: str
    how: str  # in words: "saved it as the new prompt", "applied it as the winner of “X”"...
    previous: int | None  # the version live just before, if any


# What made a version live, per audited action; the experiment's name is added for an apply.
MADE_LIVE = {
    "agent.create": "created the agent with it",
    "prompt.update": "saved it as the new prompt",
    "prompt.rollback": "rolled the prompt back to it",
    "experiment.apply": "applied it as the winner of",
}
AGENT_ACTIONS = ("agent.create", "prompt.update", "prompt.rollback")


def live_periods(agent: Agent) -> list[LivePeriod]:
    """When each version was the agent's current prompt and who made it so, oldest first.

    Read from the audit log, which every change of the current prompt writes in the same
    transaction: the agent's creation, a direct update (page or API), a rollback, and an
    experiment's winner being applied. One query."""
    experiments = agent.experiments.annotate(key=Cast("pk", CharField())).values("key")
    entries = (
        AuditEntry.objects.filter(
            Q(object_type="agent", object_id=str(agent.pk), action__in=AGENT_ACTIONS)
            | Q(
                object_type="experiment",
                object_id__in=experiments,
                action="experiment.apply",
            )
        )
        .order_by("created_at", "id")
        .values_list("created_at", "actor_label", "action", "object_repr", "after", "reason")
    )
    periods: list[LivePeriod] = []
    for at, who, action, name, after, reason in entries:
        number = (after or {}).get("version")
        if not isinstance(number, int) or (periods and periods[-1].number == number):
            continue  # an entry that names no version, or one that changed nothing live
        how = MADE_LIVE[action] + (f" “{name}”" if action == "experiment.apply" else "")
        if reason and action == "prompt.rollback":
            how += f": “{reason}”"
        previous = periods[-1] if periods else None
        if previous is not None:
            periods[-1] = replace(previous, until=at)
        periods.append(LivePeriod(number, at, None, who, how, previous and previous.number))
    return _with_current(agent, periods)


def _with_current(agent: Agent, periods: list[LivePeriod]) -> list[LivePeriod]:
    """The log and the agent agree unless entries are missing (data loaded by hand): then the
    current version is said to be live since it was saved, by whoever saved it."""
    current = agent.current_version
    if current is None or (periods and periods[-1].number == current.number):
        return periods
    if periods:
        periods[-1] = replace(periods[-1], until=current.created_at)
    who = current.author.get_username() if current.author else "someone"
    previous = periods[-1].number if periods else None
    return [*periods, LivePeriod(current.number, current.created_at, None, who, "", previous)]


def live_marks(periods: list[LivePeriod]) -> dict[int, list[LivePeriod]]:
    """{version number: its live periods, newest first}; a version never live is absent."""
    marks: dict[int, list[LivePeriod]] = {}
    for period in reversed(periods):
        marks.setdefault(period.number, []).append(period)
    return marks


def experiments_for_agent_page(agent: Agent):
    return agent.experiments.order_by("-created_at")


@dataclass(frozen=True)
class PromptComparison:
    """Two versions of one prompt and the diff from `before` to `after`, or why there is none."""

    before: PromptVersion | None = None
    after: PromptVersion | None = None
    diff: PromptDiff | None = None
    problem: str = ""  # a sentence for the page when the request named versions that don't exist

    @property
    def missing_placeholders(self) -> tuple[str, ...]:
        return self.diff.missing_placeholders if self.diff else ()


def prompt_comparison(
    agent: Agent, versions, a: str | None, b: str | None, periods: list[LivePeriod] = ()
) -> PromptComparison:
    """The diff between versions `a` and `b` ("3" or "v3") of `versions`, newest first.

    Without a choice: the version that was live before the current one, then the current
    one (`periods`, from :func:`live_periods`); a version saved but never live (a variant
    that lost) is not what the agent changed from.
    """
    versions = list(versions)
    if len(versions) < 2:
        return PromptComparison()
    by_number = {str(v.number): v for v in versions}
    picked, unknown = [], []
    defaults = _default_pair(agent, versions)
    previous = periods[-1].previous if periods else None
    if str(previous) in by_number and defaults[1].number == periods[-1].number:
        defaults = (by_number[str(previous)], defaults[1])
    for raw, default in zip((a, b), defaults, strict=True):
        raw = (raw or "").strip().removeprefix("v").removeprefix("V")
        if raw and raw not in by_number:
            unknown.append(raw)
        picked.append(by_number.get(raw, default))
    before, after = picked  # an unknown one stays at its default, so the lists show something
    if unknown:
        return PromptComparison(before, after, problem=_no_such_version(unknown[0], versions))
    return PromptComparison(before, after, prompt_diff(before.body, after.body))


def _default_pair(agent: Agent, versions: list[PromptVersion]):
    current = next((v for v in versions if v.pk == agent.current_version_id), versions[0])
    older = [v for v in versions if v.number < current.number]
    # After a rollback to v1 there is nothing older: compare with the newest, what was undone.
    before = older[0] if older else next(v for v in versions if v is not current)
    return before, current


def _no_such_version(raw: str, versions: list[PromptVersion]) -> str:
    shown = raw if len(raw) <= 20 else raw[:20] + "…"
    return (
        f"There is no version “{shown}” of this prompt. Pick two of the versions in the lists "
        f"(v{versions[-1].number} to v{versions[0].number})."
    )
