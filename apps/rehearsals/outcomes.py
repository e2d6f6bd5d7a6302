"""An evaluation's results: one frozen dataclass, serialised once into Evaluation.results and
read back through `EvaluationResults.from_json`, never picked apart as a dict elsewhere.

`summarise` turns stored conversations into it: per scenario the pass share of each arm over
its plays (plays that ended in an error are left out, never counted as fails), the paired
difference over scenarios with its interval (apps.stats.paired), per-check pass rates, and
the gate. Scenarios without checks, or without a valid play on both arms, are listed but left
out of the paired difference.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass, fields

from apps.rehearsals.checks import ERROR, FAIL, PASS
from apps.stats.paired import PairedInterval, gate, paired_difference, pass_share


@dataclass(frozen=True)
class CheckRate:
    label: str
    arm: str
    passed: int
    failed: int
    errors: int

    @property
    def rate(self) -> float | None:
        return pass_share(self.passed, self.passed + self.failed)


@dataclass(frozen=True)
class ScenarioOutcome:
    scenario_id: int | None
    name: str
    control_passed: int
    control_played: int
    variant_passed: int
    variant_played: int
    errors: int
    compared: bool

    @property
    def control_share(self) -> float | None:
        return pass_share(self.control_passed, self.control_played)

    @property
    def variant_share(self) -> float | None:
        return pass_share(self.variant_passed, self.variant_played)


@dataclass(frozen=True)
class EvaluationResults:
    scenarios: tuple[ScenarioOutcome, ...]
    checks: tuple[CheckRate, ...]
    interval: PairedInterval
    margin: float
    gate: str
    errors: int
    conversations: int

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "EvaluationResults":
        return cls(
            scenarios=tuple(ScenarioOutcome(**s) for s in data["scenarios"]),
            checks=tuple(CheckRate(**c) for c in data["checks"]),
            interval=PairedInterval(**data["interval"]),
            **{f.name: data[f.name] for f in fields(cls) if f.name in _PLAIN},
        )

    def overall_rate(self, arm: str) -> float | None:
        passed = sum(getattr(s, f"{arm}_passed") for s in self.scenarios if s.compared)
        return pass_share(
            passed, sum(getattr(s, f"{arm}_played") for s in self.scenarios if s.compared)
        )


_PLAIN = {"margin", "gate", "errors", "conversations"}


@dataclass(frozen=True)
class Played:
    """What summarise needs of one stored conversation."""

    scenario_id: int | None
    scenario_name: str
    arm: str
    overall: str
    outcomes: list[dict]


def summarise(played: list[Played], *, margin: float) -> EvaluationResults:
    scenarios = tuple(_scenario(name_id, rows) for name_id, rows in _by_scenario(played).items())
    compared = [s for s in scenarios if s.compared]
    interval = paired_difference(
        [s.control_share for s in compared], [s.variant_share for s in compared]
    )
    return EvaluationResults(
        scenarios=scenarios,
        checks=_check_rates(played),
        interval=interval,
        margin=margin,
        gate=gate(interval, margin),
        errors=sum(p.overall == ERROR for p in played),
        conversations=len(played),
    )


def _by_scenario(played: list[Played]) -> dict:
    groups = defaultdict(list)
    for p in played:
        groups[(p.scenario_name, p.scenario_id)].append(p)
    return dict(sorted(groups.items(), key=lambda item: item[0][0]))


def _scenario(name_id, rows: list[Played]) -> ScenarioOutcome:
    counts = {}
    for arm in ("control", "variant"):
        counted = [r.overall for r in rows if r.arm == arm and r.overall in (PASS, FAIL)]
        counts[arm] = (counted.count(PASS), len(counted))
    return ScenarioOutcome(
        scenario_id=name_id[1],
        name=name_id[0],
        control_passed=counts["control"][0],
        control_played=counts["control"][1],
        variant_passed=counts["variant"][0],
        variant_played=counts["variant"][1],
        errors=sum(r.overall == ERROR for r in rows),
        compared=counts["control"][1] > 0 and counts["variant"][1] > 0,
    )


def _check_rates(played: list[Played]) -> tuple[CheckRate, ...]:
    tally = defaultdict(lambda: {PASS: 0, FAIL: 0, ERROR: 0})
    for p in played:
        for outcome in p.outcomes:
            tally[(outcome["label"], p.arm)][outcome["outcome"]] += 1
    return tuple(
        CheckRate(label, arm, t[PASS], t[FAIL], t[ERROR])
        for (label, arm), t in sorted(tally.items())
    )
