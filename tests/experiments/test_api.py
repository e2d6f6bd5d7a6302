"""The management API (admin keys) drives the whole lifecycle through the same services."""

import pytest

from apps.accounts.services import api_key_create
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from tests.factories import make_agent

pytestmark = pytest.mark.django_db


def test_automation_runs_an_experiment_end_to_end(api, admin_key):
    agent = api.post(
        "/api/v1/agents",
        {"name": "Front desk", "prompt": "Greet the caller.", "config": {"voice": "alloy"}},
        key=admin_key,
    )
    assert agent.status_code == 201 and agent.json()["prompt"]["version"] == 1
    created = api.post(
        "/api/v1/experiments",
        {
            "agent": "front-desk",
            "name": "Warmer",
            "description": "Warmth sells.",
            "goal": {"kind": "duration", "direction": "higher"},
            "unit": "caller",
        },
        key=admin_key,
    )
    assert created.status_code == 201
    body = created.json()
    pk = body["id"]
    assert body["goal"] == {"kind": "duration", "direction": "higher", "criteria": ""}
    assert [v["key"] for v in body["variants"]] == ["control"]

    variant = api.post(
        f"/api/v1/experiments/{pk}/variants",
        {"name": "Warm", "prompt": "Greet the caller warmly."},
        key=admin_key,
    )
    assert variant.status_code == 201
    assert [v["key"] for v in variant.json()["variants"]] == ["control", "b"]

    weights = api.put(
        f"/api/v1/experiments/{pk}/weights", {"weights": {"control": 50, "b": 50}}, key=admin_key
    )
    assert weights.status_code == 200 and weights.json()["weights_version"] == 2
    assert api.post(f"/api/v1/experiments/{pk}/start", key=admin_key).json()["status"] == "running"
    assert api.post(f"/api/v1/experiments/{pk}/stop", key=admin_key).json()["status"] == "stopped"
    applied = api.post(
        f"/api/v1/experiments/{pk}/apply", {"variant": "b", "reason": "Reads warmer"}, key=admin_key
    )
    assert applied.json()["status"] == "applied" and applied.json()["winner"] == "b"

    agents = api.get("/api/v1/agents", key=admin_key).json()
    assert agents[0]["prompt"]["body"] == "Greet the caller warmly."
    assert AuditEntry.objects.filter(actor_label="key:Test automation").count() == 7


def test_refusals_are_400_with_the_services_sentence(api, admin_key, experiment):
    response = api.put(
        f"/api/v1/experiments/{experiment.pk}/weights",
        {"weights": {"control": 70, "b": 40}},
        key=admin_key,
    )
    assert response.status_code == 400
    assert response.json()["error"] == ("Traffic weights add up to 110%; they must add up to 100%.")
    stale = api.put(
        f"/api/v1/experiments/{experiment.pk}/weights",
        {"weights": {"control": 70, "b": 30}, "expected_version": 1},
        key=admin_key,
    )
    assert stale.status_code == 400 and "Someone else changed" in stale.json()["error"]
    apply = api.post(f"/api/v1/experiments/{experiment.pk}/apply", {"variant": "b"}, key=admin_key)
    assert apply.status_code == 400 and "never ran" in apply.json()["error"]


def test_field_errors_name_the_field(api, admin_key, agent):
    response = api.post(
        "/api/v1/experiments",
        {"agent": agent.slug, "name": "X", "goal": {"kind": "revenue"}},
        key=admin_key,
    )
    assert response.status_code == 400
    assert "kind" in response.json()["details"]["goal"]
    assert not Experiment.objects.exists()


def test_custom_goal_without_criteria_is_refused(api, admin_key, agent):
    response = api.post(
        "/api/v1/experiments",
        {"agent": agent.slug, "name": "X", "goal": {"kind": "custom"}},
        key=admin_key,
    )
    assert response.status_code == 400
    assert "Describe what a good call looks like" in response.json()["error"]
    assert response.json()["details"] == {
        "goal_criteria": ["Describe what a good call looks like; the judge reads this."]
    }


def test_router_keys_may_not_manage(api, router_key, experiment):
    response = api.post(f"/api/v1/experiments/{experiment.pk}/start", key=router_key)
    assert response.status_code == 403 and "admin key" in response.json()["error"]
    assert api.get("/api/v1/experiments", key=router_key).status_code == 403


def test_management_needs_a_key(api, experiment):
    assert api.get("/api/v1/experiments").status_code == 401
    response = api.get("/api/v1/experiments", key="sb_wrong")
    assert response.status_code == 401 and "not valid" in response.json()["error"]


def test_an_admin_key_limited_to_one_agent_sees_only_that_agent(api, experiment, operator):
    other = make_agent(user=operator)
    _, raw = api_key_create(name="Other admin", scope="admin", agents=[other])
    assert api.get("/api/v1/experiments", key=raw).json() == []
    assert [a["slug"] for a in api.get("/api/v1/agents", key=raw).json()] == [other.slug]
    assert api.get(f"/api/v1/experiments/{experiment.pk}", key=raw).status_code == 404
    assert api.post(f"/api/v1/experiments/{experiment.pk}/start", key=raw).status_code == 404


def test_unknown_experiment_is_404(api, admin_key):
    assert api.get("/api/v1/experiments/999999", key=admin_key).status_code == 404
