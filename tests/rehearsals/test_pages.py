"""The scenario pages: list, form with fact and check rows, delete, JSONL in and out, and a
scenario made from a call's page. Who may read and who may write."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.html import parse_html

from apps.audit.models import AuditEntry
from apps.rehearsals.models import Evaluation, Scenario
from apps.rehearsals.services import scenario_create
from tests.factories import CallFactory
from tests.rehearsals.helpers import DATES, FORGETFUL, dental_agent, evaluate
from tests.rehearsals.html import find, page, text

pytestmark = pytest.mark.django_db
NAMES = sorted(f"Booking on {d}" for d in DATES)  # the pages list scenarios by name

FORM = {
    "name": "Books on March 3",
    "persona": "A patient who wants a cleaning.",
    "goal": "Book a cleaning.",
    "max_turns": "10",
    "fact_key": ["date", "insurance"],
    "fact_value": ["March 3", "Delta Dental"],
    "check_kind": ["fact", "judge", "forbidden"],
    "check_text": ["March 3", "The agent asks for the date.", "next free slot"],
    "action": "save",
}


def _scenario(agent, name="Booking", **extra):
    data = {"name": name, "persona": "A patient.", "goal": "Book a cleaning.", **extra}
    return scenario_create(agent=agent, data=data)


def _call(agent):
    transcript = [
        {"speaker": "agent", "text": "Smile Dental, how can I help?"},
        {"speaker": "caller", "text": "Hi, I  need a cleaning."},
        {"speaker": "agent", "text": "Which date?"},
        {"speaker": "caller", "text": "March 3, please."},
    ]
    return CallFactory(agent=agent, transcript=transcript)


# Reading -----------------------------------------------------------------------------------


def test_every_rehearsal_page_renders_for_a_viewer(
    client, viewer, sim, operator, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    client.force_login(viewer)
    listed = page(client, f"/rehearsals/agents/{agent.slug}/scenarios/")
    assert [text(e) for e in find(listed, "rh-name")] == NAMES
    assert "New scenario" not in text(listed) and "Operators can start a rehearsal" in text(listed)
    assert "Rehearsals of" in text(page(client, agent.get_absolute_url()))
    assert "Failed" in text(page(client, f"/rehearsals/evaluations/{evaluation.pk}/"))
    exported = client.get(f"/rehearsals/agents/{agent.slug}/scenarios.jsonl")
    assert exported.status_code == 200 and "attachment" in exported["Content-Disposition"]


def test_the_list_says_who_plays_the_caller_and_summarises_the_checks(client, viewer, agent):
    _scenario(
        agent, "Typed", checks=[{"kind": "fact", "value": "a"}, {"kind": "fact", "value": "b"}]
    )
    call = _call(agent)
    from apps.rehearsals.services import scenario_from_call

    scenario_from_call(call=call)
    client.force_login(viewer)
    items = find(page(client, f"/rehearsals/agents/{agent.slug}/scenarios/"), "rh-scenario")
    replay, typed = (text(i) for i in items)  # "Replay of call …" sorts before "Typed"
    assert f"Replays call {call.call_id}" in replay and "2 caller turns word for word" in replay
    assert "No checks yet" in replay
    assert "A model plays the caller · 2 facts to say" in typed


@pytest.mark.parametrize(
    "path",
    [
        "/rehearsals/agents/{slug}/scenarios/new/",
        "/rehearsals/agents/{slug}/scenarios/import/",
        "/rehearsals/scenarios/{pk}/",
        "/rehearsals/scenarios/{pk}/delete/",
    ],
)
def test_a_viewer_may_not_open_the_forms(client, viewer, agent, path):
    scenario = _scenario(agent)
    client.force_login(viewer)
    assert client.get(path.format(slug=agent.slug, pk=scenario.pk)).status_code == 403


# Writing -----------------------------------------------------------------------------------


def test_every_write_is_refused_for_a_viewer_and_changes_nothing(client, viewer, agent):
    scenario = _scenario(agent)
    call = _call(agent)
    client.force_login(viewer)
    writes = [
        (f"/rehearsals/agents/{agent.slug}/scenarios/new/", FORM),
        (f"/rehearsals/scenarios/{scenario.pk}/", {**FORM, "name": "Renamed"}),
        (f"/rehearsals/scenarios/{scenario.pk}/delete/", {}),
        (f"/rehearsals/agents/{agent.slug}/scenarios/import/", {"text": '{"name": "x"}'}),
        (f"/rehearsals/calls/{call.pk}/scenario/", {}),
        (f"/rehearsals/agents/{agent.slug}/evaluations/", {"variant": "1", "control": "1"}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert list(Scenario.objects.values_list("name", flat=True)) == ["Booking"]
    assert not Evaluation.objects.exists()


def test_an_operator_writes_a_scenario_with_facts_and_checks(client, operator, agent):
    client.force_login(operator)
    response = client.post(f"/rehearsals/agents/{agent.slug}/scenarios/new/", FORM)
    assert response.status_code == 302
    scenario = Scenario.objects.get()
    assert scenario.facts == {"date": "March 3", "insurance": "Delta Dental"}
    assert scenario.checks == [
        {"kind": "fact", "value": "March 3"},
        {"kind": "judge", "criterion": "The agent asks for the date."},
        {"kind": "forbidden", "text": "next free slot"},
    ]
    assert scenario.max_turns == 10 and scenario.replay_turns == []
    assert AuditEntry.objects.filter(action="scenario.create", object_id=str(scenario.pk))


def test_adding_and_removing_rows_saves_nothing(client, operator, agent):
    client.force_login(operator)
    url = f"/rehearsals/agents/{agent.slug}/scenarios/new/"
    added = parse_html(client.post(url, {**FORM, "action": "add-fact"}).content.decode())
    assert len(find(added, "rh-fact")) == 3 and len(find(added, "rh-check")) == 3
    removed = client.post(url, {**FORM, "action": "remove-check:0"}).content.decode()
    assert len(find(parse_html(removed), "rh-check")) == 2
    assert 'value="next free slot"' in removed and 'value="March 3"' in removed  # the fact
    assert not Scenario.objects.exists()


def test_blank_rows_are_left_out(client, operator, agent):
    client.force_login(operator)
    form = {**FORM, "fact_key": ["", "date"], "fact_value": ["", "May 5"]}
    form |= {"check_kind": ["judge", "fact"], "check_text": ["  ", "May 5"]}
    client.post(f"/rehearsals/agents/{agent.slug}/scenarios/new/", form)
    scenario = Scenario.objects.get()
    assert scenario.facts == {"date": "May 5"} and scenario.checks == [
        {"kind": "fact", "value": "May 5"}
    ]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"max_turns": "1"}, "Must be a whole number from 2 to 60."),
        ({"max_turns": "99999999999999999999"}, "Must be a whole number from 2 to 60."),
        ({"max_turns": "-3"}, "Must be a whole number from 2 to 60."),
        ({"max_turns": "NaN"}, "Must be a whole number from 2 to 60."),
        ({"persona": "A\x00patient"}, "NUL character"),
        ({"name": "   "}, "Is empty; write it."),
        ({"fact_key": ["date", "date"]}, "The fact “date” is written twice."),
        ({"fact_key": ["date", ""]}, "Is empty; write it."),
        ({"check_kind": ["vibes", "judge", "fact"]}, "Check 1: Must be"),
        ({"check_text": ["x" * 2001, "a", "b"]}, "Check 1: Is 2,001 characters"),
    ],
)
def test_the_form_shows_the_refusal_in_plain_words_and_saves_nothing(
    client, operator, agent, change, said
):
    client.force_login(operator)
    response = client.post(f"/rehearsals/agents/{agent.slug}/scenarios/new/", {**FORM, **change})
    assert response.status_code == 400
    assert said in response.content.decode()
    assert not Scenario.objects.exists()


def test_editing_keeps_the_replayed_words_and_changes_the_rest(client, operator, agent):
    from apps.rehearsals.services import scenario_from_call

    scenario = scenario_from_call(call=_call(agent))
    client.force_login(operator)
    shown = client.get(f"/rehearsals/scenarios/{scenario.pk}/").content.decode()
    assert "Hi, I need a cleaning." in shown and "replayed as said (2 turns)" in shown
    edited = {**FORM, "name": scenario.name, "check_kind": ["fact"], "check_text": ["March 3"]}
    assert client.post(f"/rehearsals/scenarios/{scenario.pk}/", edited).status_code == 302
    scenario.refresh_from_db()
    assert scenario.replay_turns == ["Hi, I need a cleaning.", "March 3, please."]
    assert scenario.checks == [{"kind": "fact", "value": "March 3"}]


def test_renaming_onto_another_scenarios_name_is_refused(client, operator, agent):
    _scenario(agent, "First")
    second = _scenario(agent, "Second")
    client.force_login(operator)
    response = client.post(f"/rehearsals/scenarios/{second.pk}/", {**FORM, "name": "First"})
    assert (
        response.status_code == 400 and "already has a scenario named" in response.content.decode()
    )
    assert sorted(Scenario.objects.values_list("name", flat=True)) == ["First", "Second"]


def test_delete_asks_first_then_deletes(client, operator, agent):
    scenario = _scenario(agent)
    client.force_login(operator)
    asked = client.get(f"/rehearsals/scenarios/{scenario.pk}/delete/")
    assert asked.status_code == 200 and Scenario.objects.exists()
    assert "Delete Booking?" in asked.content.decode()
    assert client.post(f"/rehearsals/scenarios/{scenario.pk}/delete/").status_code == 302
    assert not Scenario.objects.exists()
    assert AuditEntry.objects.filter(action="scenario.delete")


# JSONL ---------------------------------------------------------------------------------------

GOOD_LINE = json.dumps({"name": "One", "persona": "A patient.", "goal": "Book."})
LINES = {
    "bad JSON": GOOD_LINE + "\n{not json}\n",
    "a bad field": GOOD_LINE + '\n{"name": "Two", "persona": "P", "goal": "G", "max_turns": 0}\n',
    "a name twice": GOOD_LINE + "\n" + GOOD_LINE + "\n",
    "NaN": GOOD_LINE + '\n{"name": "Two", "persona": "P", "goal": "G", "max_turns": NaN}\n',
}


@pytest.mark.parametrize("case", sorted(LINES))
def test_a_bad_import_names_the_line_and_keeps_nothing(client, operator, agent, case):
    client.force_login(operator)
    url = f"/rehearsals/agents/{agent.slug}/scenarios/import/"
    response = client.post(url, {"text": LINES[case]})
    assert response.status_code == 400
    said = text(find(parse_html(response.content.decode()), "error")[0])
    assert said.startswith("Nothing was imported. Line 2:"), said
    assert LINES[case].splitlines()[1] in response.content.decode().replace("&quot;", '"')
    assert not Scenario.objects.exists()


def test_an_uploaded_file_is_imported_and_exports_back_the_same(client, operator, agent):
    client.force_login(operator)
    lines = [json.loads(GOOD_LINE), {**json.loads(GOOD_LINE), "name": "Ünïcode ☎"}]
    body = "\ufeff" + "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    upload = SimpleUploadedFile("s.jsonl", body.encode("utf-8"))
    url = f"/rehearsals/agents/{agent.slug}/scenarios/import/"
    assert client.post(url, {"file": upload}).status_code == 302
    exported = client.get(f"/rehearsals/agents/{agent.slug}/scenarios.jsonl").content.decode()
    assert [json.loads(line)["name"] for line in exported.splitlines()] == ["One", "Ünïcode ☎"]


def test_a_file_that_is_not_utf8_is_refused(client, operator, agent):
    client.force_login(operator)
    upload = SimpleUploadedFile("s.jsonl", GOOD_LINE.encode("utf-16"))
    response = client.post(f"/rehearsals/agents/{agent.slug}/scenarios/import/", {"file": upload})
    assert response.status_code == 400 and "not UTF-8" in response.content.decode()
    assert not Scenario.objects.exists()


# From a call ---------------------------------------------------------------------------------


def test_the_call_page_button_makes_a_replay_scenario(client, operator, viewer, agent):
    call = _call(agent)
    client.force_login(viewer)
    assert "Make a scenario from this call" not in client.get(f"/calls/{call.pk}/").content.decode()
    client.force_login(operator)
    assert "Make a scenario from this call" in client.get(f"/calls/{call.pk}/").content.decode()
    response = client.post(f"/rehearsals/calls/{call.pk}/scenario/", follow=True)
    scenario = Scenario.objects.get()
    assert response.redirect_chain[0][0] == f"/rehearsals/scenarios/{scenario.pk}/"
    said = [" ".join(t["text"].split()) for t in call.transcript if t["speaker"] == "caller"]
    assert scenario.replay_turns == said and scenario.source_call == call
    assert "its 2 caller turns are played word for word" in response.content.decode()


def test_a_call_without_caller_turns_says_so_and_makes_nothing(client, operator, agent):
    call = CallFactory(agent=agent, transcript=[{"speaker": "agent", "text": "Hello?"}])
    client.force_login(operator)
    response = client.post(f"/rehearsals/calls/{call.pk}/scenario/", follow=True)
    assert response.redirect_chain[0][0] == f"/calls/{call.pk}/"
    assert "no caller turns" in response.content.decode() and not Scenario.objects.exists()


def test_every_rehearsal_page_sends_anonymous_people_to_the_login(client, agent):
    scenario = _scenario(agent)
    for url in [
        f"/rehearsals/agents/{agent.slug}/scenarios/",
        f"/rehearsals/agents/{agent.slug}/scenarios.jsonl",
        f"/rehearsals/scenarios/{scenario.pk}/",
        "/rehearsals/evaluations/1/",
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert client.post(f"/rehearsals/scenarios/{scenario.pk}/delete/").status_code == 302
    assert Scenario.objects.exists()


def test_a_missing_evaluation_or_scenario_is_a_404(client, viewer, operator):
    client.force_login(operator)
    assert client.get("/rehearsals/evaluations/999999/").status_code == 404
    assert client.get("/rehearsals/scenarios/999999/").status_code == 404
    assert client.get("/rehearsals/agents/nobody/scenarios/").status_code == 404
