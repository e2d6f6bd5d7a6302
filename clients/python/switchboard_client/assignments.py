"""An assignment (which prompt a call gets), and what the client remembers of past ones so it
can still answer a router when Switchboard cannot.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

CONTROL = "control"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Switchboard's answer: the prompt and configuration to run this call with.

    `experiment` and `variant` are None when the agent runs no experiment (or, in a fallback,
    when the client cannot know the caller's variant). Put `variant_id` and `experiment_id` in
    the call's report so the call counts toward the right variant. `fallback` is True when the
    answer came from this client's memory because Switchboard did not answer.
    """

    agent: str
    experiment: dict[str, Any] | None
    variant: dict[str, Any] | None
    prompt: dict[str, Any]
    config: dict[str, Any]
    fallback: bool = False

    @classmethod
    def from_answer(cls, data: dict[str, Any]) -> "Assignment":
        return cls(
            agent=data["agent"],
            experiment=data.get("experiment"),
            variant=data.get("variant"),
            prompt=data["prompt"],
            config=data.get("config") or {},
        )

    @property
    def experiment_id(self) -> int | None:
        return self.experiment["id"] if self.experiment else None

    @property
    def variant_id(self) -> int | None:
        return self.variant["id"] if self.variant else None

    @property
    def variant_key(self) -> str | None:
        return self.variant["key"] if self.variant else None


class AssignmentMemory:
    """The last answers seen, to fall back on while Switchboard is unreachable.

    Two things are remembered per agent: each caller's (and call's) last assignment, and the
    agent's current prompt. A caller seen before gets their variant again, which is what the
    server would say while the split is unchanged. A caller never seen gets the current prompt
    with no variant: guessing a variant would put calls in an arm the server never chose and
    bias the experiment. The current prompt is learned from an answer without an experiment, or
    from a control answer (a running experiment's control is the agent's current prompt).
    A caller's remembered variant is dropped once a newer answer shows the agent's experiment
    has changed (stopped, or another one started).
    """

    def __init__(self, max_units: int = 100_000):
        self._max_units = max_units
        self._units: OrderedDict[tuple[str, str, str], Assignment] = OrderedDict()
        self._current: dict[str, Assignment] = {}
        self._experiment: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def remember(self, assignment: Assignment, caller: str, call_id: str | None) -> None:
        agent = assignment.agent
        with self._lock:
            for unit in _units(agent, caller, call_id):
                self._units[unit] = assignment
                self._units.move_to_end(unit)
            while len(self._units) > self._max_units:
                self._units.popitem(last=False)
            self._experiment[agent] = assignment.experiment_id
            if assignment.variant is None or assignment.variant_key == CONTROL:
                self._current[agent] = replace(assignment, experiment=None, variant=None)

    def recall(self, agent: str, caller: str, call_id: str | None) -> Assignment | None:
        """The best answer from memory, marked as a fallback; None if nothing is known."""
        with self._lock:
            for unit in _units(agent, caller, call_id):
                known = self._units.get(unit)
                if known and known.experiment_id == self._experiment.get(agent):
                    return replace(known, fallback=True)
            current = self._current.get(agent)
        return replace(current, fallback=True) if current else None


def _units(agent: str, caller: str, call_id: str | None) -> list[tuple[str, str, str]]:
    """Keys to remember an answer under: the call itself first (per-call experiments draw by
    call), then the caller."""
    units = [(agent, "call", call_id)] if call_id else []
    return [*units, (agent, "caller", caller)]
