"""Reads for the rehearsal pages: an agent's scenarios, and an evaluation laid out side by side
(each scenario a row, the control's plays on the left, the variant's on the right)."""

from collections import defaultdict
from dataclasses import dataclass

from apps.agents.models import Agent
from apps.rehearsals.models import Conversation, Evaluation, Scenario, Status
from apps.rehearsals.outcomes import CheckRate, EvaluationResults, ScenarioOutcome

RECENT_EVALUATIONS = 10
KIND_WORDS = {
    "judge": ("criterion for the judge", "criteria for the judge"),
    "fact": ("fact to say", "facts to say"),
    "forbidden": ("forbidden phrase", "forbidden phrases"),
}


def checks_summary(scenario: Scenario) -> str:
    """ "1 criterion for the judge, 2 facts to say" — or "No checks yet"."""
    counts = defaultdict(int)
    for check in scenario.checks:
        counts[check["kind"]] += 1
    parts = [f"{counts[k]} {KIND_WORDS[k][counts[k] != 1]}" for k in KIND_WORDS if counts[k]]
    return ", ".join(parts) or "No checks yet"


def scenarios_for_page(agent: Agent) -> list[Scenario]:
    scenarios = list(agent.scenarios.select_related("source_call"))
    for scenario in scenarios:
        scenario.summary = checks_summary(scenario)
    return scenarios


def evaluations_for_agent_page(agent: Agent):
    return agent.evaluations.select_related("variant_prompt", "control_prompt")[:RECENT_EVALUATIONS]


@dataclass(frozen=True)
class Turn:
    number: int
    speaker: str
    text: str
    failing: bool


@dataclass(frozen=True)
class Played:
    """One conversation as the page shows it."""

    play: int
    overall: str
    outcomes: list[dict]
    error: str
    reused: bool
    turns: tuple[Turn, ...]

    @property
    def failing_count(self) -> int:
        return sum(t.failing for t in self.turns)


@dataclass(frozen=True)
class ScenarioRow:
    name: str
    outcome: ScenarioOutcome | None
    control: tuple[Played, ...]
    variant: tuple[Played, ...]


@dataclass(frozen=True)
class CheckRow:
    label: str
    control: CheckRate | None
    variant: CheckRate | None


@dataclass(frozen=True)
class EvaluationPage:
    evaluation: Evaluation
    results: EvaluationResults | None
    played: int
    planned: int
    checks: tuple[CheckRow, ...]
    scenarios: tuple[ScenarioRow, ...]

    @property
    def live(self) -> bool:
        return self.evaluation.status in (Status.QUEUED, Status.RUNNING)


def _played(conversation: Conversation) -> Played:
    failing = set(conversation.failing_turns or ())
    turns = tuple(
        Turn(i + 1, str(t.get("speaker", "")), str(t.get("text", "")), i in failing)
        for i, t in enumerate(conversation.transcript or [])
        if isinstance(t, dict)
    )
    return Played(
        play=conversation.play + 1,
        overall=conversation.overall,
        outcomes=list(conversation.outcomes or []),
        error=conversation.error,
        reused=conversation.reused,
        turns=turns,
    )


def _check_rows(results: EvaluationResults | None) -> tuple[CheckRow, ...]:
    if results is None:
        return ()
    by_label: dict[str, dict[str, CheckRate]] = defaultdict(dict)
    for rate in results.checks:
        by_label[rate.label][rate.arm] = rate
    return tuple(
        CheckRow(label, arms.get("control"), arms.get("variant"))
        for label, arms in sorted(by_label.items())
    )


def evaluation_for_page(evaluation: Evaluation) -> EvaluationPage:
    results = evaluation.results and EvaluationResults.from_json(evaluation.results)
    outcomes = {s.name: s for s in results.scenarios} if results else {}
    arms: dict[str, dict[str, list[Played]]] = defaultdict(lambda: defaultdict(list))
    conversations = evaluation.conversations.order_by("scenario_name", "arm", "play")
    for conversation in conversations:
        arms[conversation.scenario_name][conversation.arm].append(_played(conversation))
    rows = tuple(
        ScenarioRow(name, outcomes.get(name), tuple(a["control"]), tuple(a["variant"]))
        for name, a in sorted(arms.items())
    )
    return EvaluationPage(
        evaluation=evaluation,
        results=results or None,
        played=sum(len(r.control) + len(r.variant) for r in rows),
        planned=len(evaluation.scenario_ids) * evaluation.plays * 2,
        checks=_check_rows(results or None),
        scenarios=rows,
    )
