"""Scenarios: validation, a replay made from a real call, JSONL in and out."""

import json

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.rehearsals.models import Scenario
from apps.rehearsals.services import (
    scenario_create,
    scenario_delete,
    scenario_from_call,
    scenario_update,
    scenarios_export_jsonl,
    scenarios_import_jsonl,
)
from tests.factories import CallFactory
from tests.rehearsals.helpers import GOOD, dental_agent, evaluate

pytestmark = pytest.mark.django_db

BASE = {"name": "Booking", "persona": "A patient.", "goal": "Book a cleaning."}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"persona": "A\x00patient"}, "persona"),
        ({"name": "x" * 101}, "name"),
        ({"goal": "   "}, "goal"),
        ({"max_turns": 1}, "max_turns"),
        ({"max_turns": 10**12}, "max_turns"),
        ({"max_turns": True}, "max_turns"),
        ({"facts": {"date": 3}}, "facts.date"),
        ({"facts": ["March 3"]}, "facts"),
        ({"checks": [{"kind": "vibes", "text": "good"}]}, "checks[0]"),
        ({"checks": [{"kind": "fact", "text": "wrong field"}]}, "checks[0]"),
        ({"checks": [{"kind": "forbidden", "text": "\ud800"}]}, "checks[0]"),
        ({"replay_turns": ["hi"] * 61}, "replay_turns"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_create_refuses_bad_fields_in_plain_words_and_writes_nothing(agent, change, field):
    with pytest.raises(ValidationError) as refused:
        scenario_create(agent=agent, data={**BASE, **change})
    assert field in refused.value.message_dict
    assert (
        not Scenario.objects.exists()
        and not AuditEntry.objects.filter(action="scenario.create").exists()
    )


def test_a_name_is_unique_per_agent(agent, operator):
    scenario_create(agent=agent, data=BASE, user=operator)
    with pytest.raises(ValidationError, match="already has a scenario named"):
        scenario_create(agent=agent, data=BASE, user=operator)


def test_changing_a_scenarios_content_changes_its_hash_and_is_audited(agent, operator):
    scenario = scenario_create(agent=agent, data=BASE, user=operator)
    before = scenario.content_sha256
    renamed = scenario_update(scenario=scenario, data={"name": "Renamed"}, user=operator)
    assert renamed.content_sha256 == before  # the name is not content
    changed = scenario_update(scenario=scenario, data={"facts": {"date": "May 1"}}, user=operator)
    assert changed.content_sha256 != before
    scenario_delete(scenario=changed, user=operator)
    actions = list(AuditEntry.objects.values_list("action", flat=True).order_by("id"))
    assert actions[-4:] == [
        "scenario.create",
        "scenario.update",
        "scenario.update",
        "scenario.delete",
    ]


def test_a_call_becomes_a_replay_scenario_with_its_experiments_criterion(operator):
    from apps.judging.services import criterion_update
    from tests.factories import make_experiment

    agent = dental_agent(operator, dates=())
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="custom", goal_criteria="The agent confirms the date."
    )
    criterion_update(experiment=experiment, text="The agent repeats the date back.", user=operator)
    call = CallFactory(
        agent=agent,
        experiment=experiment,
        transcript=[
            {"speaker": "agent", "text": "Hello?"},
            {"speaker": "caller", "text": "I need  a cleaning."},
            {"speaker": "caller", "text": "   "},
            {"speaker": "caller", "text": "March 3."},
        ],
    )
    scenario = scenario_from_call(call=call, user=operator)
    assert scenario.replay_turns == ["I need a cleaning.", "March 3."]
    assert "I need a cleaning." in scenario.persona and scenario.facts == {}
    assert scenario.checks == [{"kind": "judge", "criterion": "The agent repeats the date back."}]
    assert scenario.source_call == call
    again = scenario_from_call(call=call, user=operator)
    assert again.name == f"{scenario.name} (2)"


def test_a_call_without_caller_turns_is_refused(agent):
    call = CallFactory(agent=agent)
    with pytest.raises(ValidationError, match="no caller turns"):
        scenario_from_call(call=call)


def test_a_replayed_call_is_played_verbatim_against_both_prompts(
    sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator, dates=())
    said = ["I need a cleaning.", "March 3."]  # the agent still answers the last turn
    call = CallFactory(agent=agent, transcript=[{"speaker": "caller", "text": t} for t in said])
    scenario = scenario_from_call(call=call, user=operator)
    scenario_update(scenario=scenario, data={"checks": [{"kind": "fact", "value": "March 3"}]})
    evaluation = evaluate(agent, GOOD + " Be brief.", django_capture_on_commit_callbacks, plays=1)
    transcript = evaluation.conversations.get(arm="variant").transcript
    assert [t["text"] for t in transcript if t["speaker"] == "caller"] == said
    assert transcript[-1]["text"] == "You are booked for March 3. Goodbye."
    assert sim.count("caller") == 0  # no model played the caller
    assert evaluation.conversations.get(arm="control").overall == "pass"


def test_jsonl_round_trips(operator):
    source = dental_agent(operator)
    text = scenarios_export_jsonl(agent=source)
    assert len(text.splitlines()) == 3
    target = dental_agent(operator, dates=())
    made = scenarios_import_jsonl(agent=target, text=text, user=operator)
    assert scenarios_export_jsonl(agent=target) == text
    assert [s.content_sha256 for s in made] == [
        s.content_sha256 for s in source.scenarios.order_by("name")
    ]


@pytest.mark.parametrize(
    ("second_line", "said"),
    [
        ("{not json", "Line 3: The body is not valid JSON."),
        ('{"name": "B", "persona": "p", "goal": "g", "max_turns": NaN}', "Line 3: NaN"),
        ('{"name": "A", "persona": "p", "goal": "g"}', "Line 3: name:"),
        ('{"name": "B", "persona": "p\\u0000", "goal": "g"}', "Line 3: “persona” contains a NUL"),
        ("[1, 2]", "Line 3: A scenario must be a JSON object."),
    ],
)
def test_an_import_with_one_bad_line_saves_nothing_and_names_the_line(agent, second_line, said):
    good = json.dumps({"name": "A", "persona": "p", "goal": "g"})
    with pytest.raises(ValidationError) as refused:
        scenarios_import_jsonl(agent=agent, text=f"{good}\n\n{second_line}\n", user="key:ci")
    assert refused.value.messages[0].startswith(said)
    assert not Scenario.objects.exists()


def test_an_empty_or_huge_import_is_refused(agent):
    with pytest.raises(ValidationError, match="no scenarios"):
        scenarios_import_jsonl(agent=agent, text="\n \n")
    line = json.dumps({"name": "A", "persona": "p", "goal": "g"}) + "\n"
    with pytest.raises(ValidationError, match="limit is 1,000"):
        scenarios_import_jsonl(agent=agent, text=line * 1001)
