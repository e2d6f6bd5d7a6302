"""GET/POST /api/v1/agents/{slug}/metrics and DELETE .../metrics/{key}."""

import pytest

from apps.accounts.services import api_key_create
from apps.metrics import for_agent
from apps.metrics.models import CustomMetric
from tests.factories import make_agent

pytestmark = pytest.mark.django_db

BODY = {
    "key": "basket",
    "name": "Basket value",
    "field": "basket_value",
    "type": "number",
    "direction": "higher",
    "aggregate": "p95",
}


def _url(agent, key=""):
    return f"/api/v1/agents/{agent.slug}/metrics" + (f"/{key}" if key else "")


def test_it_creates_lists_and_deletes_a_metric(api, admin_key, agent, client):
    created = api.post(_url(agent), BODY, key=admin_key)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in BODY} == BODY
    assert for_agent(agent.id)["basket"].quantile == 0.95
    listed = api.get(_url(agent), key=admin_key)
    assert [m["key"] for m in listed.json()] == ["basket"]
    gone = client.delete(_url(agent, "basket"), HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert gone.status_code == 204
    assert not CustomMetric.objects.exists() and "basket" not in for_agent(agent.id)


def test_a_yes_no_field_defaults_to_a_rate(api, admin_key, agent):
    body = {**BODY, "type": "boolean", "key": "booked", "field": "booked"}
    del body["aggregate"]
    assert api.post(_url(agent), body, key=admin_key).json()["aggregate"] == "rate"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "conversion"}, "key"),
        ({"field": "x'; DROP TABLE calls_call; --"}, "field"),
        ({"type": "boolean"}, "aggregate"),  # boolean with p95
        ({"type": "text"}, "type"),
        ({"direction": 1}, "direction"),
        ({"key": 12}, "key"),
        ({"name": None}, "name"),
    ],
)
def test_refusals_are_400_with_the_field_named_and_nothing_written(
    api, admin_key, agent, changes, field
):
    answer = api.post(_url(agent), {**BODY, **changes}, key=admin_key)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["details"], answer.json()
    assert not CustomMetric.objects.exists()


def test_a_nul_is_refused_before_anything_is_read(api, admin_key, agent):
    answer = api.post(_url(agent), {**BODY, "field": "a\u0000"}, key=admin_key)
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]
    assert not CustomMetric.objects.exists()


def test_a_taken_key_is_400_in_words(api, admin_key, agent):
    api.post(_url(agent), BODY, key=admin_key)
    answer = api.post(_url(agent), {**BODY, "field": "other"}, key=admin_key)
    assert answer.status_code == 400
    assert "already has a metric “basket”" in answer.json()["details"]["key"][0]
    assert CustomMetric.objects.count() == 1


def test_a_router_key_may_not_manage_metrics(api, router_key, agent, client):
    assert api.post(_url(agent), BODY, key=router_key).status_code == 403
    assert api.get(_url(agent), key=router_key).status_code == 403
    answer = client.delete(_url(agent, "basket"), HTTP_AUTHORIZATION=f"Bearer {router_key}")
    assert answer.status_code == 403
    assert not CustomMetric.objects.exists()


def test_no_key_is_401(api, agent):
    assert api.post(_url(agent), BODY).status_code == 401


def test_unknown_agents_keys_and_agents_outside_a_key_are_404(api, admin_key, agent, client):
    other = make_agent()
    _, limited = api_key_create(name="Only other", scope="admin", agents=[other])
    assert api.post("/api/v1/agents/ghost/metrics", BODY, key=admin_key).status_code == 404
    assert api.post(_url(agent), BODY, key=limited).status_code == 404
    api.post(_url(agent), BODY, key=admin_key)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {limited}"}
    assert client.delete(_url(agent, "basket"), **auth).status_code == 404
    admin = {"HTTP_AUTHORIZATION": f"Bearer {admin_key}"}
    assert client.delete(_url(agent, "ghost"), **admin).status_code == 404
    assert CustomMetric.objects.count() == 1


def test_the_operations_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    collection = schema["paths"]["/api/v1/agents/{slug}/metrics"]
    assert {"get", "post"} <= set(collection)
    assert set(collection["post"]["responses"]) >= {"201", "400", "403", "404"}
    assert "delete" in schema["paths"]["/api/v1/agents/{slug}/metrics/{key}"]
