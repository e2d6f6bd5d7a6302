import pytest

from apps.accounts.services import api_key_create
from apps.experiments.services import experiment_start
from tests.factories import make_agent
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def test_results_api_returns_the_snapshot_fields(api, admin_key, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=200)
    response = api.get(f"/api/v1/experiments/{experiment.pk}/results", key=admin_key)
    assert response.status_code == 200
    body = response.json()
    assert {"computed_at", "goal", "srm", "verdict", "variants"} <= set(body)
    assert body["goal"] == "conversion"
    assert set(body["srm"]) == {"p_value", "ok", "units", "expected"}
    assert body["srm"]["units"] == {"control": 200, "b": 200}  # callers, one call each
    assert body["srm"]["expected"] == {"control": 200.0, "b": 200.0}
    b = body["variants"][1]
    assert {
        "key",
        "name",
        "weight",
        "calls",
        "mean",
        "ci_low",
        "ci_high",
        "lift",
        "p_value",
        "fixed_p_value",
        "chance_to_win",
        "verdict",
    } <= set(b)
    assert b["calls"] == 200 and b["weight"] == 50
    assert set(b["lift"]) == {
        "absolute",
        "relative",
        "ci_low",
        "ci_high",
        "relative_low",
        "relative_high",
        "ok",
    }
    control_mean = body["variants"][0]["mean"]
    assert b["lift"]["relative_high"] == pytest.approx(b["lift"]["ci_high"] / control_mean)
    assert body["variants"][0]["lift"] is None


def test_results_need_an_admin_key(api, router_key, experiment):
    url = f"/api/v1/experiments/{experiment.pk}/results"
    assert api.get(url).status_code == 401
    assert api.get(url, key=router_key).status_code == 403


def test_fresh_results_are_computed_now(api, admin_key, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    url = f"/api/v1/experiments/{experiment.pk}/results"
    first = api.get(url, key=admin_key).json()
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=200)
    assert api.get(url, key=admin_key).json()["computed_at"] == first["computed_at"]
    fresh = api.get(f"{url}?fresh=1", key=admin_key).json()
    assert fresh["computed_at"] != first["computed_at"] and fresh["variants"][1]["calls"] == 200
    assert experiment.snapshots.count() == 2
    assert {"guardrails", "plan"} <= set(fresh)


def test_fresh_results_need_an_admin_key_for_the_agent(api, router_key, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    url = f"/api/v1/experiments/{experiment.pk}/results?fresh=1"
    assert api.get(url, key=router_key).status_code == 403
    _, scoped = api_key_create(name="Other admin", scope="admin", agents=[make_agent()])
    assert api.get(url, key=scoped).status_code == 404
    assert experiment.snapshots.count() == 0


def test_fresh_and_segment_are_documented_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    get = schema["paths"]["/api/v1/experiments/{id}/results"]["get"]
    assert [p["name"] for p in get["parameters"] if p["in"] == "query"] == ["fresh", "segment"]
