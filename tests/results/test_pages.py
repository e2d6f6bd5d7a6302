import pytest
from django.urls import reverse

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from tests.factories import CallFactory
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def test_results_panel_shows_verdict_numbers_and_details(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=1500)
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "Winner found" in panel and "Safe to apply" in panel
    assert "1,500" in panel and "Chance to beat control" in panel
    assert "Fixed-horizon p" in panel and 'data-chart="lift"' in panel
    assert "Recompute now" not in panel  # viewers only read


def test_a_draft_has_no_results_yet(client, viewer, experiment):
    client.force_login(viewer)
    page = client.get(reverse("experiments:detail", args=[experiment.pk])).text
    assert "Results appear here once the experiment runs" in page


def test_recompute_is_for_operators(client, viewer, operator, experiment):
    experiment_start(experiment=experiment, user=operator)
    url = reverse("results:refresh", args=[experiment.pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    client.force_login(operator)
    assert client.post(url).status_code == 200
    assert experiment.snapshots.count() == 1


def test_planner_answers_with_calls_and_days(client, operator, agent):
    for i in range(60):
        CallFactory(agent=agent, converted=i % 5 == 0)
    client.force_login(operator)
    page = client.get(
        reverse("results:plan"),
        {"agent": agent.slug, "goal_kind": "conversion", "min_lift_percent": "20"},
    ).text
    assert "calls per variant" in page and "day" in page
    assert Call.objects.count() == 60


def test_planner_explains_what_it_needs(client, operator):
    client.force_login(operator)
    page = client.get(reverse("results:plan"), {"agent": "", "min_lift_percent": "x"}).text
    assert "Pick an agent, a goal and the smallest lift" in page
