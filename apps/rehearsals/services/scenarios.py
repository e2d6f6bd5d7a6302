"""Writes for scenarios: create, update, delete, make one from a real call, JSONL in and out.

Each write is one transaction, validated first (apps.rehearsals.services.validation) and
audited; a refused write changes nothing.
"""

import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.agents.models import Agent
from apps.audit.services import audit_record, person
from apps.calls.models import Call
from apps.rehearsals.models import Scenario
from apps.rehearsals.services.validation import (
    MAX_NAME,
    MAX_PERSONA,
    MAX_REPLAY_CHARS,
    MAX_REPLAY_TURNS,
    clean_scenario,
)
from config.inputs import JSONRefused, loads_bounded

MAX_IMPORT_LINES = 1000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
EXPORTED = ("name", "persona", "goal", "facts", "max_turns", "checks", "replay_turns")


def _save(scenario: Scenario) -> Scenario:
    try:
        with transaction.atomic():
            scenario.full_clean(exclude=["content_sha256", "facts", "checks", "replay_turns"])
            scenario.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"{scenario.agent.name} already has a scenario named “{scenario.name}”."}
        ) from None
    return scenario


def _name_taken(agent: Agent, name: str, exclude: int | None = None) -> None:
    if agent.scenarios.filter(name=name).exclude(pk=exclude).exists():
        raise ValidationError({"name": f"{agent.name} already has a scenario named “{name}”."})


@transaction.atomic
def scenario_create(*, agent: Agent, data: dict, user=None, source_call=None) -> Scenario:
    """A new scenario from {name, persona, goal, facts?, max_turns?, checks?, replay_turns?}."""
    fields = clean_scenario(data)
    _name_taken(agent, fields["name"])
    scenario = _save(
        Scenario(agent=agent, source_call=source_call, created_by=person(user), **fields)
    )
    audit_record(actor=user, action="scenario.create", obj=scenario, after=_exported(scenario))
    return scenario


@transaction.atomic
def scenario_update(*, scenario: Scenario, data: dict, user=None) -> Scenario:
    """Change the given fields; the content hash changes with them, so cached plays expire."""
    scenario = Scenario.objects.select_for_update().select_related("agent").get(pk=scenario.pk)
    fields = clean_scenario(data, partial=True)
    if "name" in fields:
        _name_taken(scenario.agent, fields["name"], exclude=scenario.pk)
    before = _exported(scenario)
    for field, value in fields.items():
        setattr(scenario, field, value)
    _save(scenario)
    audit_record(
        actor=user, action="scenario.update", obj=scenario, before=before, after=_exported(scenario)
    )
    return scenario


@transaction.atomic
def scenario_delete(*, scenario: Scenario, user=None) -> None:
    """Delete it; evaluations that played it keep their conversations and results."""
    audit_record(actor=user, action="scenario.delete", obj=scenario, before=_exported(scenario))
    scenario.delete()


def scenario_from_call(*, call: Call, user=None) -> Scenario:
    """A replay scenario from a real call: its caller turns are played verbatim, the persona
    is suggested from the first things the caller said, no facts, and a judge check from the
    call's experiment's criterion when it has a custom goal (else no check: add some)."""
    said = [
        " ".join(str(t.get("text") or "").split())[:MAX_REPLAY_CHARS]
        for t in call.transcript or []
        if isinstance(t, dict) and t.get("speaker") == "caller"
    ]
    said = [s for s in said if s][:MAX_REPLAY_TURNS]
    if not said:
        raise ValidationError("This call has no caller turns in its transcript to replay.")
    data = {
        "name": _free_name(call),
        "persona": _persona(said),
        "goal": f"What the caller of call {call.call_id} wanted."[:MAX_PERSONA],
        "facts": {},
        "max_turns": min(2 * len(said) + 1, 60),
        "checks": _criterion_checks(call),
        "replay_turns": said,
    }
    return scenario_create(agent=call.agent, data=data, user=user, source_call=call)


def _persona(said: list[str]) -> str:
    opening = " ".join(said[:2])[:300]
    return f"A caller from a real call, who opened with: “{opening}”"


def _free_name(call: Call) -> str:
    base = f"Replay of call {call.call_id}"[: MAX_NAME - 6]
    taken = set(call.agent.scenarios.filter(name__startswith=base).values_list("name", flat=True))
    return next(
        n for i in range(1, 10_000) if (n := base if i == 1 else f"{base} ({i})") not in taken
    )


def _criterion_checks(call: Call) -> list[dict]:
    experiment = call.experiment
    if experiment is None or experiment.goal_kind != "custom":
        return []
    latest = experiment.criteria.order_by("-version").first()
    text = (latest.text if latest else experiment.goal_criteria).strip()
    return [{"kind": "judge", "criterion": text}] if text else []


def _exported(scenario: Scenario) -> dict:
    return {field: getattr(scenario, field) for field in EXPORTED}


def scenarios_export_jsonl(*, agent: Agent) -> str:
    """One JSON object per line, in name order: what scenarios_import_jsonl reads back."""
    return "".join(
        json.dumps(_exported(s), ensure_ascii=False) + "\n" for s in agent.scenarios.all()
    )


def _parse_jsonl(text: str) -> list[tuple[int, dict]]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
        raise ValidationError("The file is over 5 MB; import fewer scenarios at a time.")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValidationError("The file has no scenarios (one JSON object per line).")
    if len(lines) > MAX_IMPORT_LINES:
        raise ValidationError(f"The file has {len(lines):,} scenarios; the limit is 1,000.")
    parsed = []
    for number, line in lines:
        try:
            parsed.append((number, loads_bounded(line, max_depth=8)))
        except JSONRefused as error:
            raise ValidationError(f"Line {number}: {error}") from None
    return parsed


@transaction.atomic
def scenarios_import_jsonl(*, agent: Agent, text: str, user=None) -> list[Scenario]:
    """All scenarios of the file or none: the first bad line is named and nothing is saved.
    A name already used by the agent, or twice in the file, is refused."""
    made, names = [], set()
    for number, data in _parse_jsonl(text):
        try:
            if isinstance(data, dict) and data.get("name") in names:
                raise ValidationError({"name": f"“{data['name']}” is used twice in the file."})
            made.append(scenario_create(agent=agent, data=data, user=user))
            names.add(made[-1].name)
        except ValidationError as error:
            raise ValidationError(f"Line {number}: {_sentence(error)}") from None
    return made


def _sentence(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{field}: {' '.join(messages)}" for field, messages in error)
    return " ".join(error.messages)
