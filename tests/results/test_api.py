import pytest

from apps.experiments.services import experiment_start
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def test_results_api_returns_the_snapshot_fields(api, admin_key, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=200)
    response = api.get(f"/api/v1/experiments/{experiment.pk}/results", key=admin_key)
    assert response.status_code == 200
    body = response.json()
    assert {"computed_at", "goal", "srm", "verdict", "variants"} <= set(body)
    assert body["goal"] == "conversion" and set(body["srm"]) == {"p_value", "ok"}
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
    assert set(b["lift"]) == {"relative", "ci_low", "ci_high"}
    assert body["variants"][0]["lift"] is None


def test_results_need_an_admin_key(api, router_key, experiment):
    url = f"/api/v1/experiments/{experiment.pk}/results"
    assert api.get(url).status_code == 401
    assert api.get(url, key=router_key).status_code == 403
