"""The management API (admin keys) drives the whole lifecycle through the same services."""

import pytest

from apps.accounts.services import api_key_create
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_start
from tests.factories import make_agent, make_experiment

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
    [message] = response.json()["details"]["goal_kind"]
    assert "“revenue”" in message and "cost_per_call" in message  # what is allowed instead
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


# --- Pause and resume a variant ------------------------------------------------------------


@pytest.fixture
def running3(agent, operator):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    return experiment_start(experiment=experiment, user=operator)


def pause(api, key, experiment, variant="c", data=None):
    body = {"reason": "It transfers too many callers."} if data is None else data
    return api.post(f"/api/v1/experiments/{experiment.pk}/variants/{variant}/pause", body, key=key)


def resume(api, key, experiment, variant="c"):
    return api.post(f"/api/v1/experiments/{experiment.pk}/variants/{variant}/resume", key=key)


def state(experiment) -> tuple:
    """Everything a pause or resume writes: weights, pause notes, phase, layout, audit."""
    experiment = Experiment.objects.get(pk=experiment.pk)
    variants = experiment.variants.order_by("key")
    return (
        [(v.key, v.weight, v.paused_weight, v.paused_reason) for v in variants],
        experiment.weights_version,
        experiment.bucket_layout,
        AuditEntry.objects.count(),
    )


def test_it_pauses_a_variant_and_resumes_it(api, admin_key, running3):
    layout = Experiment.objects.get(pk=running3.pk).bucket_layout
    response = pause(api, admin_key, running3)
    assert response.status_code == 200
    body = response.json()
    assert {v["key"]: v["weight"] for v in body["variants"]} == {"control": 67, "b": 33, "c": 0}
    assert body["weights_version"] == running3.weights_version + 1
    c = running3.variants.get(key="c")
    assert c.paused_weight == 33 and c.paused_reason == "It transfers too many callers."
    entry = AuditEntry.objects.get(action="variant.pause")
    assert entry.actor_label == "key:Test automation"
    assert entry.reason == "It transfers too many callers."

    response = resume(api, admin_key, running3)
    assert response.status_code == 200
    assert {v["key"]: v["weight"] for v in response.json()["variants"]} == {
        "control": 34,
        "b": 33,
        "c": 33,
    }
    assert Experiment.objects.get(pk=running3.pk).bucket_layout == layout  # its own buckets
    assert AuditEntry.objects.filter(action="variant.resume").count() == 1


@pytest.mark.parametrize(
    ("variant", "data", "status", "says"),
    [
        ("z", None, 404, "There is no variant “z” in this experiment."),
        ("control", None, 400, "Only a variant other than the control can be paused."),
        ("c", {}, 400, "Some fields are not valid."),
        ("c", {"reason": ""}, 400, "Some fields are not valid."),
        ("c", {"reason": "   "}, 400, "Some fields are not valid."),
        ("c", {"reason": 7}, 400, "Some fields are not valid."),
    ],
)
def test_pause_refuses_and_writes_nothing(api, admin_key, running3, variant, data, status, says):
    before = state(running3)
    response = pause(api, admin_key, running3, variant, data)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert state(running3) == before


def test_pause_refuses_a_variant_already_paused(api, admin_key, running3):
    assert pause(api, admin_key, running3).status_code == 200
    before = state(running3)
    response = pause(api, admin_key, running3)
    assert response.status_code == 400
    assert response.json()["error"] == "Variant C is already paused (0% of calls)."
    assert state(running3) == before


def test_pause_and_resume_refuse_an_experiment_that_is_not_running(api, admin_key, experiment):
    before = state(experiment)
    answers = [pause(api, admin_key, experiment, "b"), resume(api, admin_key, experiment, "b")]
    for response in answers:
        assert response.status_code == 400
        error = response.json()["error"]
        assert "is draft" in error and "only while it is running" in error
    assert state(experiment) == before


def test_resume_refuses_a_variant_that_is_not_paused(api, admin_key, running3):
    before = state(running3)
    response = resume(api, admin_key, running3)
    assert response.status_code == 400 and "was not paused" in response.json()["error"]
    unknown = resume(api, admin_key, running3, "z")
    assert unknown.status_code == 404 and "no variant “z”" in unknown.json()["error"]
    assert state(running3) == before


def test_pause_and_resume_refuse_router_keys(api, router_key, admin_key, running3):
    before = state(running3)
    for response in (pause(api, router_key, running3), resume(api, router_key, running3)):
        assert response.status_code == 403 and "admin key" in response.json()["error"]
    assert state(running3) == before
    assert pause(api, admin_key, running3).status_code == 200
    before = state(running3)
    assert resume(api, router_key, running3).status_code == 403
    assert state(running3) == before


def test_pause_and_resume_are_404_for_a_key_limited_to_other_agents(
    api, admin_key, running3, operator
):
    _, raw = api_key_create(name="Other admin", scope="admin", agents=[make_agent(user=operator)])
    before = state(running3)
    for response in (pause(api, raw, running3), resume(api, raw, running3)):
        assert response.status_code == 404
    assert state(running3) == before
    assert pause(api, admin_key, running3).status_code == 200
    before = state(running3)
    assert resume(api, raw, running3).status_code == 404
    assert state(running3) == before


def test_pause_and_resume_need_a_key(api, running3):
    before = state(running3)
    assert pause(api, None, running3).status_code == 401
    assert resume(api, None, running3).status_code == 401
    assert state(running3) == before
