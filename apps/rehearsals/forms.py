"""The scenario form of the pages: facts and checks as rows a person adds and removes.

Only shape lives here (rows in, the service's data dict out, the service's refusals back onto
the rows); what a scenario may hold is decided by apps.rehearsals.services.validation, the
same rules the API and the JSONL import meet.
"""

from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError

from apps.rehearsals.models import Scenario
from apps.rehearsals.services.validation import CHECK_FIELDS

CHECK_KINDS = [
    ("judge", "The judge decides whether the agent did this"),
    ("fact", "The agent says this fact"),
    ("forbidden", "The agent never says this"),
]
FIELDS = ("name", "persona", "goal", "max_turns")


@dataclass(frozen=True)
class ScenarioRows:
    """What the form shows and sends: texts as typed, facts and checks as (a, b) rows."""

    name: str = ""
    persona: str = ""
    goal: str = ""
    max_turns: str = "12"
    facts: tuple[tuple[str, str], ...] = (("", ""),)
    checks: tuple[tuple[str, str], ...] = (("judge", ""),)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> "ScenarioRows":
        checks = tuple((c["kind"], c[CHECK_FIELDS[c["kind"]]]) for c in scenario.checks)
        return cls(
            name=scenario.name,
            persona=scenario.persona,
            goal=scenario.goal,
            max_turns=str(scenario.max_turns),
            facts=tuple(scenario.facts.items()) or cls.facts,
            checks=checks or cls.checks,
        )

    @classmethod
    def from_post(cls, post) -> "ScenarioRows":
        keys, values = post.getlist("fact_key"), post.getlist("fact_value")
        kinds, texts = post.getlist("check_kind"), post.getlist("check_text")
        return cls(
            **{name: post.get(name, "") for name in FIELDS},
            facts=tuple(zip(keys, values, strict=False)),
            checks=tuple(zip(kinds, texts, strict=False)),
        )

    def edited(self, action: str) -> "ScenarioRows":
        """The rows after an "add a row" or "remove row N" button; anything else: unchanged."""
        what, _, index = action.partition(":")
        rows = {"fact": self.facts, "check": self.checks}
        if what.startswith("add-") and what[4:] in rows:
            blank = ("", "") if what == "add-fact" else ("judge", "")
            return replace(self, **{f"{what[4:]}s": rows[what[4:]] + (blank,)})
        if what.startswith("remove-") and what[7:] in rows and index.isdigit():
            kept = tuple(r for i, r in enumerate(rows[what[7:]]) if i != int(index))
            return replace(self, **{f"{what[7:]}s": kept})
        return self

    def data(self) -> dict:
        """The service's data: blank rows left out; a fact named twice refused here, because
        a dict would silently keep only one of them."""
        facts, checks = {}, []
        for key, value in self.facts:
            if not (key.strip() or value.strip()):
                continue
            if key.strip() in facts:
                raise ValidationError({"facts": f"The fact “{key.strip()}” is written twice."})
            facts[key.strip()] = value
        for kind, text in self.checks:
            if text.strip():
                checks.append({"kind": kind, CHECK_FIELDS.get(kind, "text"): text})
        max_turns = self.max_turns.strip()
        return {
            "name": self.name,
            "persona": self.persona,
            "goal": self.goal,
            "max_turns": int(max_turns) if max_turns.isdecimal() else max_turns,
            "facts": facts,
            "checks": checks,
        }

    def with_errors(self, error: ValidationError) -> "ScenarioRows":
        return replace(self, errors=placed(error))


def placed(error: ValidationError) -> dict[str, list[str]]:
    """The service's refusal put where the form shows it: a field's own, the facts, the
    checks ("Check 2: …"), or the whole form."""
    if not hasattr(error, "error_dict"):
        return {"form": list(error.messages)}
    errors: dict[str, list[str]] = {}
    for key, messages in error.message_dict.items():
        where, prefix = key, ""
        if key.startswith("checks["):
            where, prefix = "checks", f"Check {int(key[7:].rstrip(']')) + 1}: "
        elif key.startswith("facts."):
            where, prefix = "facts", f"“{key[6:]}”: "
        elif key not in (*FIELDS, "facts", "checks"):
            where, prefix = "form", f"{key}: "
        errors.setdefault(where, []).extend(prefix + m for m in messages)
    return errors
