from dataclasses import dataclass

from django.db.models import Count, Q

from apps.agents.diffing import PromptDiff, prompt_diff
from apps.agents.models import Agent, PromptVersion


def agents_for_list():
    return (
        Agent.objects.select_related("current_version")
        .annotate(
            version_count=Count("versions", distinct=True),
            running_count=Count(
                "experiments", filter=Q(experiments__status="running"), distinct=True
            ),
        )
        .order_by("name")
    )


def agents_for_page():
    return Agent.objects.select_related("current_version__author")


def prompt_history(agent: Agent):
    return agent.versions.select_related("author", "parent").order_by("-number")


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


def prompt_comparison(agent: Agent, versions, a: str | None, b: str | None) -> PromptComparison:
    """The diff between versions `a` and `b` ("3" or "v3") of `versions`, newest first.

    Without a choice: the version before the current one, then the current one.
    """
    versions = list(versions)
    if len(versions) < 2:
        return PromptComparison()
    by_number = {str(v.number): v for v in versions}
    picked, unknown = [], []
    for raw, default in zip((a, b), _default_pair(agent, versions), strict=True):
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
