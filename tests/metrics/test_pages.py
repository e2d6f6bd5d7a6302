"""The operator's metrics page: /agents/<slug>/metrics/."""

import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.metrics import for_agent
from apps.metrics.models import CustomMetric
from apps.metrics.selectors import fields_seen
from apps.metrics.services import custom_metric_create
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Booked a visit",
    "key": "booked",
    "field": "booked",
    "type": "boolean",
    "aggregate": "rate",
    "direction": "higher",
}


def _url(agent):
    return f"/agents/{agent.slug}/metrics/"


def _calls(agent, fields_list):
    Call.objects.bulk_create(
        Call(agent=agent, call_id=f"p-{i}", caller="+1555", started_at=timezone.now(), fields=f)
        for i, f in enumerate(fields_list)
    )


def test_it_lists_built_in_metrics_and_the_fields_calls_report(client, operator, agent):
    _calls(
        agent,
        [
            {"booked": True, "basket": 12.5, "note": "hi", "code": "12", "deep": {"a": 1}},
            {"booked": False, "basket": 3},
            {"booked": "yes", "bad name": 1, "huge": 1e13},
        ],
    )
    client.force_login(operator)
    page = client.get(_url(agent)).content.decode()
    assert "Conversion rate" in page and "Add a metric" in page
    seen = {(s.field, s.type): s.calls for s in fields_seen(agent)}
    assert seen == {("booked", "boolean"): 2, ("basket", "number"): 2}
    assert "?field=booked&amp;type=boolean#add" in page


def test_fields_seen_reads_only_the_most_recent_calls(agent):
    _calls(agent, [{"old": 1}] + [{"new": True}] * 3)
    Call.objects.filter(fields__has_key="old").update(started_at=timezone.now().replace(year=2020))
    assert [s.field for s in fields_seen(agent, recent=3)] == ["new"]


def test_a_suggestion_fills_the_form(client, operator, agent):
    client.force_login(operator)
    page = client.get(_url(agent), {"field": "basket_value", "type": "number"}).content.decode()
    assert 'value="basket_value"' in page
    assert '<option value="mean" selected>' in page


def test_an_operator_adds_a_metric_and_sees_it(client, operator, agent):
    client.force_login(operator)
    answer = client.post(_url(agent), FORM, follow=True)
    page = answer.content.decode()
    assert "“Booked a visit” is now a metric" in page and 'id="metric-booked"' in page
    assert "booked" in for_agent(agent.id)


def test_a_refusal_is_shown_by_its_field_and_nothing_is_saved(client, operator, agent):
    client.force_login(operator)
    answer = client.post(_url(agent), {**FORM, "field": "x'; DROP TABLE calls_call; --"})
    assert answer.status_code == 200
    assert "letters, digits and underscores" in answer.content.decode()
    answer = client.post(_url(agent), {**FORM, "key": "conversion"})
    assert "is a built-in metric" in answer.content.decode()
    assert not CustomMetric.objects.exists()


def test_a_viewer_sees_the_metrics_but_may_not_change_them(client, viewer, operator, agent):
    metric = custom_metric_create(agent=agent, user=operator, **FORM)
    client.force_login(viewer)
    page = client.get(_url(agent)).content.decode()
    assert "Booked a visit" in page and "Add a metric" not in page and "Delete" not in page
    assert client.post(_url(agent), {**FORM, "key": "other"}).status_code == 403
    assert client.post(f"{_url(agent)}{metric.key}/delete/").status_code == 403
    assert CustomMetric.objects.count() == 1


def test_delete_asks_first_then_deletes(client, operator, agent):
    custom_metric_create(agent=agent, user=operator, **FORM)
    client.force_login(operator)
    assert (
        'data-confirm="Delete the metric “Booked a visit”?'
        in client.get(_url(agent)).content.decode()
    )
    page = client.post(f"{_url(agent)}booked/delete/", follow=True).content.decode()
    assert "was deleted" in page and not CustomMetric.objects.exists()


def test_delete_of_a_metric_in_use_says_why_not(client, operator, agent):
    custom_metric_create(agent=agent, user=operator, **FORM)
    experiment = make_experiment(agent=agent, user=operator)
    Experiment.objects.filter(pk=experiment.pk).update(goal_kind="booked")
    client.force_login(operator)
    page = client.post(f"{_url(agent)}booked/delete/", follow=True).content.decode()
    assert "is the goal of the draft experiment" in page
    assert CustomMetric.objects.count() == 1


def test_unknown_agents_and_metrics_are_404(client, operator, agent):
    client.force_login(operator)
    assert client.get("/agents/ghost/metrics/").status_code == 404
    assert client.post(f"{_url(agent)}ghost/delete/").status_code == 404


def test_the_agent_page_links_to_its_metrics(client, operator, agent):
    client.force_login(operator)
    assert f'href="{_url(agent)}"' in client.get(agent.get_absolute_url()).content.decode()
