import pytest

from apps.agents.models import Agent

pytestmark = pytest.mark.django_db


def test_create_agent_and_a_new_prompt_version(api, admin_key):
    created = api.post(
        "/api/v1/agents",
        {"name": "Collections", "slug": "collections", "prompt": "Be calm."},
        key=admin_key,
    )
    assert created.status_code == 201
    version = api.post(
        "/api/v1/agents/collections/prompts",
        {"prompt": "Be calm and brief.", "note": "shorter"},
        key=admin_key,
    )
    assert version.status_code == 201 and version.json()["version"] == 2
    assert Agent.objects.get().current_version.body == "Be calm and brief."


def test_create_agent_refuses_a_taken_slug_and_an_empty_prompt(api, admin_key, agent):
    taken = api.post(
        "/api/v1/agents", {"name": "X", "slug": agent.slug, "prompt": "Hi"}, key=admin_key
    )
    assert taken.status_code == 400 and agent.slug in taken.json()["error"]
    empty = api.post("/api/v1/agents", {"name": "Y", "prompt": "   "}, key=admin_key)
    assert empty.status_code == 400
    assert Agent.objects.count() == 1


def test_new_prompt_for_unknown_agent_is_404(api, admin_key):
    assert (
        api.post("/api/v1/agents/ghost/prompts", {"prompt": "x"}, key=admin_key).status_code == 404
    )
