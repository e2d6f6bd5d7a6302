"""DELETE /api/v1/experiments/{id}/variants/{key}: the page's variant removal, over the API."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.audit.models import AuditEntry
from apps.experiments.services import experiment_start
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def remove(client, experiment, key, api_key):
    return client.delete(
        f"/api/v1/experiments/{experiment.pk}/variants/{key}",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )


def variants(experiment):
    return dict(experiment.variants.order_by("key").values_list("key", "weight"))


def test_it_removes_a_drafts_variant_and_evens_the_split(client, admin_key, agent, operator):
    draft = make_experiment(agent=agent, user=operator, weights=(33, 33, 34))
    response = remove(client, draft, "c", admin_key)
    assert response.status_code == 200
    body = response.json()
    assert [(v["key"], v["weight"]) for v in body["variants"]] == [("control", 50), ("b", 50)]
    assert variants(draft) == {"control": 50, "b": 50}
    entry = AuditEntry.objects.get(action="variant.remove")
    assert entry.actor_label == "key:Test automation" and entry.before["variant"] == "c"


def _refused(client, experiment, key, api_key, status, words):
    before = variants(experiment)
    audited = AuditEntry.objects.count()
    response = remove(client, experiment, key, api_key)
    assert response.status_code == status, response.content
    assert words in response.json()["error"]
    assert variants(experiment) == before
    assert AuditEntry.objects.count() == audited


def test_it_refuses_the_control(client, admin_key, experiment):
    _refused(client, experiment, "control", admin_key, 400, "The control cannot be removed")


def test_it_refuses_a_running_experiment(client, admin_key, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    _refused(client, experiment, "b", admin_key, 400, "variants can be removed")


def test_it_refuses_a_key_the_experiment_does_not_have(client, admin_key, experiment):
    _refused(client, experiment, "z", admin_key, 404, "There is no variant “z”")


def test_it_refuses_a_router_key(client, router_key, experiment):
    _refused(client, experiment, "b", router_key, 403, "")


def test_it_refuses_no_key(client, experiment):
    before = variants(experiment)
    response = client.delete(f"/api/v1/experiments/{experiment.pk}/variants/b")
    assert response.status_code == 401 and variants(experiment) == before


def test_it_is_in_the_schema_with_its_refusals():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/experiments/{id}/variants/{key}"]["delete"]
    assert operation["operationId"] == "remove_variant"
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    assert "control" in operation["description"]
