"""POST/GET /api/v1/agents/{slug}/scenarios and GET /api/v1/evaluations/{id}."""

import pytest

from apps.accounts.services import api_key_create
from apps.rehearsals.models import Scenario
from tests.factories import make_agent
from tests.rehearsals.helpers import FORGETFUL, checks, dental_agent, evaluate

pytestmark = pytest.mark.django_db

SCENARIO = {
    "name": "Booking",
    "persona": "A patient.",
    "goal": "Book a cleaning.",
    "facts": {"date": "March 3"},
    "max_turns": 8,
    "checks": checks("March 3"),
}


def test_an_admin_key_creates_and_lists_scenarios(api, agent, admin_key):
    url = f"/api/v1/agents/{agent.slug}/scenarios"
    created = api.post(url, SCENARIO, key=admin_key)
    assert created.status_code == 201, created.json()
    assert created.json()["checks"] == SCENARIO["checks"] and created.json()["source_call"] is None
    listed = api.get(url, key=admin_key).json()
    assert [s["name"] for s in listed] == ["Booking"] and listed[0]["facts"] == SCENARIO["facts"]


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({**SCENARIO, "max_turns": 0}, 400, "max_turns"),
        ({**SCENARIO, "checks": [{"kind": "judge"}]}, 400, "checks[0]"),
        ({**SCENARIO, "facts": {"date": 1e400}}, 400, "finite"),
        ([SCENARIO], 400, "JSON object"),
    ],
)
def test_bad_scenarios_are_refused_with_a_sentence(api, agent, admin_key, body, status, said):
    import json

    raw = json.dumps(body).replace("Infinity", "1e400") if body != [SCENARIO] else None
    response = api.post(f"/api/v1/agents/{agent.slug}/scenarios", raw=raw, data=body, key=admin_key)
    assert response.status_code == status and said in json.dumps(response.json())
    assert not Scenario.objects.exists()


def test_keys_that_may_not_manage_are_refused(api, agent, router_key):
    url = f"/api/v1/agents/{agent.slug}/scenarios"
    assert api.post(url, SCENARIO).status_code == 401
    assert api.post(url, SCENARIO, key=router_key).status_code == 403
    _, limited = api_key_create(name="Other", scope="admin", agents=[make_agent()])
    assert api.post(url, SCENARIO, key=limited).status_code == 404
    assert not Scenario.objects.exists()


def test_an_evaluation_reads_with_its_gate_checks_and_scenarios(
    api, sim, operator, admin_key, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    body = api.get(f"/api/v1/evaluations/{evaluation.pk}", key=admin_key).json()
    assert body["status"] == "done" and body["gate"] == "failed"
    assert body["interval"]["lower"] == -1.0 and body["interval"]["scenarios"] == 3
    assert {(c["label"], c["arm"]): c["rate"] for c in body["checks"]}[
        ("fact: May 25", "variant")
    ] == 0.0
    assert [(s["control_share"], s["variant_share"]) for s in body["scenarios"]] == [(1.0, 0.0)] * 3
    assert body["cost_usd"] == pytest.approx(evaluation.cost_usd) and body["cost_usd"] > 0
    _, limited = api_key_create(name="Other", scope="admin", agents=[make_agent()])
    assert api.get(f"/api/v1/evaluations/{evaluation.pk}", key=limited).status_code == 404
    assert api.get("/api/v1/evaluations/999999", key=admin_key).status_code == 404


def test_the_schema_documents_the_rehearsal_operations(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    assert schema.status_code == 200
    for operation in ("create_scenario", "list_scenarios", "get_evaluation"):
        assert operation in text
