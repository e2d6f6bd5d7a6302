"""A key limited to some agents finds nothing outside them: every answer about another agent
(or its experiments) is the very answer given for one that does not exist."""

import pytest

from apps.accounts.services import api_key_create
from apps.agents.models import Agent
from apps.assignments import table
from tests.factories import make_agent

pytestmark = pytest.mark.django_db
MISSING = 999_999


@pytest.fixture
def scoped(operator):
    """An admin key limited to one other agent."""
    return api_key_create(name="Other admin", scope="admin", agents=[make_agent(user=operator)])[1]


def _both(api, scoped, method, path_for, hidden, missing, data=None):
    seen = getattr(api, method)(path_for(hidden), data, key=scoped)
    absent = getattr(api, method)(path_for(missing), data, key=scoped)
    return seen, absent


EXPERIMENT_OPERATIONS = [
    ("get", "/api/v1/experiments/{}", None),
    ("get", "/api/v1/experiments/{}/results", None),
    ("post", "/api/v1/experiments/{}/variants", {"name": "C"}),
    ("put", "/api/v1/experiments/{}/weights", {"weights": {"control": 100, "b": 0}}),
    ("post", "/api/v1/experiments/{}/start", None),
    ("post", "/api/v1/experiments/{}/stop", None),
    ("post", "/api/v1/experiments/{}/apply", {"variant": "b"}),
]


@pytest.mark.parametrize(("method", "path", "data"), EXPERIMENT_OPERATIONS)
def test_an_experiment_of_another_agent_is_answered_as_missing(
    api, scoped, experiment, method, path, data
):
    if method == "get":
        seen = api.get(path.format(experiment.pk), key=scoped)
        absent = api.get(path.format(MISSING), key=scoped)
    else:
        seen, absent = _both(api, scoped, method, path.format, experiment.pk, MISSING, data)

    assert seen.status_code == absent.status_code == 404
    assert seen.json() == absent.json()
    experiment.refresh_from_db()
    assert experiment.status == "draft" and experiment.variants.count() == 2


def test_a_new_prompt_for_another_agent_is_answered_as_missing(api, scoped, agent):
    seen, absent = _both(
        api,
        scoped,
        "post",
        "/api/v1/agents/{}/prompts".format,
        agent.slug,
        "nobody",
        {"prompt": "Hello there."},
    )

    assert seen.status_code == absent.status_code == 404 and seen.json() == absent.json()
    assert agent.versions.count() == 1


def test_an_experiment_on_another_agent_is_answered_as_missing(api, scoped, agent):
    body = {"name": "Sneaky", "goal": {"kind": "conversion"}}

    seen = api.post("/api/v1/experiments", {**body, "agent": agent.slug}, key=scoped)
    absent = api.post("/api/v1/experiments", {**body, "agent": "nobody"}, key=scoped)

    assert seen.status_code == absent.status_code == 404 and seen.json() == absent.json()
    assert not agent.experiments.exists()


def test_lists_show_only_the_keys_agents(api, scoped, experiment):
    assert experiment.agent.slug not in str(api.get("/api/v1/agents", key=scoped).json())
    assert api.get("/api/v1/experiments", key=scoped).json() == []


def test_creating_agents_needs_a_key_for_every_agent(api, scoped, admin_key, agent):
    refused = api.post(
        "/api/v1/agents", {"name": "X", "slug": agent.slug, "prompt": "Hi"}, key=scoped
    )

    assert refused.status_code == 403 and "limited to some agents" in refused.json()["error"]
    assert agent.slug not in refused.json()["error"]  # not "An agent with the address … exists"
    made = api.post("/api/v1/agents", {"name": "New", "prompt": "Hi"}, key=admin_key)
    assert made.status_code == 201 and Agent.objects.filter(slug="new").exists()


def test_a_call_of_another_agent_is_refused_like_an_unknown_agent(api, operator, agent):
    _, raw = api_key_create(name="Other router", agents=[make_agent(user=operator)])
    call = {
        "call_id": "c-1",
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_seconds": 95,
    }

    seen = api.post("/api/v1/calls", {**call, "agent": agent.slug}, key=raw).json()
    absent = api.post("/api/v1/calls", {**call, "agent": "nobody"}, key=raw).json()

    assert seen["details"]["items"]["0"]["agent"] == f"There is no agent “{agent.slug}”."
    assert absent["details"]["items"]["0"]["agent"] == "There is no agent “nobody”."


def test_an_assignment_for_another_agent_is_answered_as_missing(api, operator, agent):
    _, raw = api_key_create(name="Other router", agents=[make_agent(user=operator)])
    table.refresh()

    seen = api.post("/api/v1/assignments", {"agent": agent.slug, "caller": "+1"}, key=raw)
    absent = api.post("/api/v1/assignments", {"agent": "nobody", "caller": "+1"}, key=raw)

    assert seen.status_code == absent.status_code == 404
    assert seen.json()["error"] == absent.json()["error"].replace("nobody", agent.slug)
