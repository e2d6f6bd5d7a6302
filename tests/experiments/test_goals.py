"""Any metric as goal, guardrails with their own thresholds, secondary metrics: what the API,
the services and the pages accept, and what they refuse in words while writing nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_create, experiment_update
from apps.metrics import for_agent

pytestmark = pytest.mark.django_db


def post(api, key, agent, **fields):
    body = {"agent": agent.slug, "name": "X", "goal": {"kind": "conversion"}, **fields}
    return api.post("/api/v1/experiments", body, key=key)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"goal": {"kind": "revenue"}}, "Pick a goal"),
        ({"goal": {"kind": "conversion\x00"}}, "contains a NUL character"),
        ({"guardrails": ["mood"]}, "Unknown guardrail “mood”; choose from"),
        ({"guardrails": ["conversion"]}, "Conversion rate is the goal"),
        ({"guardrails": ["transfer_rate", "transfer_rate"]}, "listed twice as a guardrail"),
        (
            {"guardrails": [{"metric": "transfer_rate", "threshold_percent": -1}]},
            "between 0 and 100",
        ),
        (
            {"guardrails": [{"metric": "transfer_rate", "threshold_percent": 100.5}]},
            "between 0 and 100",
        ),
        (
            {"guardrails": [{"metric": "transfer_rate", "threshold_percent": 1e308}]},
            "between 0 and 100",
        ),
        (
            {"guardrails": [{"metric": "transfer_rate", "threshold_percent": "3"}]},
            "must be a number of percent",
        ),
        (
            {"guardrails": [{"metric": "transfer_rate", "threshold_percent": True}]},
            "must be a number of percent",
        ),
        ({"guardrails": [{"metric": "transfer_rate", "limit": 3}]}, "only “metric”"),
        ({"guardrails": [["transfer_rate"]]}, "Give each guardrail as"),
        ({"guardrails": ["custom"]}, "scored only when it is the goal"),
        ({"guardrails": ["transfer_rate"] * 10_000}, "At most"),
        ({"secondary": ["cost_per_call", "cost_per_call"]}, "listed twice as a secondary"),
        ({"secondary": ["conversion"]}, "is the goal"),
        ({"guardrails": ["transfer_rate"], "secondary": ["transfer_rate"]}, "is a guardrail"),
        ({"secondary": [7]}, "Unknown secondary metric “7”"),
        ({"secondary": "cost_per_call"}, "Expected a list"),
    ],
)
def test_api_refuses_bad_goals_guardrails_and_secondary_in_words(
    api, admin_key, agent, fields, words
):
    response = post(api, admin_key, agent, **fields)
    assert response.status_code == 400, response.json()
    assert words in str(response.json())
    assert not Experiment.objects.exists()
    assert not AuditEntry.objects.filter(action="experiment.create").exists()


def test_api_refuses_a_nan_threshold_and_writes_nothing(api, admin_key, agent):
    raw = (
        f'{{"agent": "{agent.slug}", "name": "X", "goal": {{"kind": "conversion"}}, '
        '"guardrails": [{"metric": "transfer_rate", "threshold_percent": NaN}]}'
    )
    response = api.post("/api/v1/experiments", raw=raw, key=admin_key)
    assert response.status_code == 400 and not Experiment.objects.exists()


def test_services_refuse_nan_and_infinite_thresholds(agent, operator):
    for bad in (float("nan"), float("inf"), float("-inf")):
        guard = [{"metric": "transfer_rate", "threshold_percent": bad}]
        with pytest.raises(ValidationError, match="between 0 and 100"):
            experiment_create(agent=agent, name="X", goal_kind="conversion", guardrails=guard)
    assert not Experiment.objects.exists()


def test_api_takes_any_metric_as_goal_and_guardrails_in_both_shapes(api, admin_key, agent):
    response = post(
        api,
        admin_key,
        agent,
        goal={"kind": "cost_per_call"},
        guardrails=["transfer_rate", {"metric": "latency_mean", "threshold_percent": 12.5}],
        secondary=["tool_success_rate", "caller_hangup_rate"],
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["goal"]["kind"] == "cost_per_call"
    assert body["goal"]["direction"] == "lower"  # the metric's own
    assert body["guardrails"] == [
        {"metric": "transfer_rate", "threshold_percent": 3.0},  # a key alone: the default
        {"metric": "latency_mean", "threshold_percent": 12.5},
    ]
    assert body["secondary"] == ["tool_success_rate", "caller_hangup_rate"]
    stored = Experiment.objects.get()
    assert stored.guardrail_thresholds == {"transfer_rate": 3.0, "latency_mean": 12.5}


def test_api_patch_changes_thresholds_and_refuses_a_bad_one_changing_nothing(api, admin_key, agent):
    pk = post(api, admin_key, agent, guardrails=["transfer_rate"]).json()["id"]
    new = [{"metric": "transfer_rate", "threshold_percent": 1}]
    ok = api._call("patch", f"/api/v1/experiments/{pk}", {"guardrails": new}, key=admin_key)
    assert ok.status_code == 200 and ok.json()["guardrails"] == [
        {"metric": "transfer_rate", "threshold_percent": 1.0}
    ]
    bad = [{"metric": "transfer_rate", "threshold_percent": 101}]
    refused = api._call(
        "patch", f"/api/v1/experiments/{pk}", {"guardrails": bad, "name": "Y"}, key=admin_key
    )
    assert refused.status_code == 400 and "between 0 and 100" in refused.json()["error"]
    stored = Experiment.objects.get()
    assert stored.name == "X" and stored.guardrail_thresholds == {"transfer_rate": 1.0}


def test_a_goal_may_prefer_either_way_and_optimize_serves_only_pass_or_fail(agent, operator):
    known = for_agent(agent.pk)
    for key, metric in known.items():
        criteria = "Kind" if key == "custom" else ""
        e = experiment_create(
            agent=agent, name=key, goal_kind=key, goal_criteria=criteria, guardrails=[]
        )
        assert e.goal_direction == metric.direction and e.goal_label == metric.title
        if not metric.optimizable:
            with pytest.raises(ValidationError, match="Optimize mode works for goals"):
                experiment_create(agent=agent, name=key, goal_kind=key, optimize=True)
    longer = experiment_create(
        agent=agent, name="L", goal_kind="duration", goal_direction="higher", guardrails=[]
    )
    assert longer.goal_direction == "higher"


def test_changing_the_goal_to_a_guardrail_is_refused_and_changes_nothing(experiment, operator):
    with pytest.raises(ValidationError, match="Transfer rate is the goal"):
        experiment_update(
            experiment=experiment,
            user=operator,
            name="X",
            goal_kind="transfer_rate",
            guardrails=experiment.guardrails,
        )
    experiment.refresh_from_db()
    assert experiment.goal_kind == "conversion"


# Pages


def test_the_new_page_offers_every_metric_grouped_with_threshold_boxes(client, operator, agent):
    client.force_login(operator)
    page = client.get(reverse("experiments:new") + f"?agent={agent.slug}").text
    for key, metric in for_agent(agent.pk).items():
        assert f'value="{key}"' in page and metric.title in page
    assert "Share of calls" in page and "Average per call" in page
    assert 'name="threshold_transfer_rate"' in page and 'name="threshold_cost_per_call"' in page
    assert "3 means: paused when more than 3 percentage points worse" in page
    assert "more than 3% worse than the control&#x27;s cost per call" in page
    assert "more than 0.03 points worse on its -1 to 1 scale" in page
    assert 'name="secondary"' in page


def test_the_new_page_drafts_a_goal_with_thresholds_and_secondary(client, operator, agent):
    client.force_login(operator)
    form = {
        "agent": agent.slug,
        "name": "Cheaper calls",
        "goal_kind": "cost_per_call",
        "goal_direction": "",
        "guardrails": ["transfer_rate", "sentiment"],
        "threshold_transfer_rate": "2",
        "threshold_sentiment": "",  # empty: the default
        "secondary": ["latency_mean"],
        "unit": "caller",
        "min_lift_percent": "10",
    }
    response = client.post(reverse("experiments:new"), form)
    assert response.status_code == 302
    e = Experiment.objects.get()
    assert (e.goal_kind, e.goal_direction) == ("cost_per_call", "lower")
    assert e.guardrail_thresholds == {"transfer_rate": 2.0, "sentiment": 3.0}
    assert e.secondary == ["latency_mean"]
    detail = client.get(e.get_absolute_url()).text
    assert "Cost per call · lower is better" in detail
    assert "Transfer rate: a variant more than 2 percentage points worse" in detail
    assert "Response time" in detail
    edit = client.get(reverse("experiments:edit", args=[e.pk])).text
    assert 'name="threshold_transfer_rate" value="2.0"' in edit


def test_the_new_page_refuses_a_threshold_over_100_and_drafts_nothing(client, operator, agent):
    client.force_login(operator)
    form = {
        "agent": agent.slug,
        "name": "X",
        "goal_kind": "conversion",
        "guardrails": ["transfer_rate"],
        "threshold_transfer_rate": "150",
        "unit": "caller",
        "min_lift_percent": "5",
    }
    page = client.post(reverse("experiments:new"), form)
    assert page.status_code == 200 and "less than or equal to 100" in page.text
    assert not Experiment.objects.exists()


def test_the_list_reads_goal_labels_from_the_registry(client, operator, agent):
    client.force_login(operator)
    experiment_create(agent=agent, name="Cheap", goal_kind="cost_per_call", guardrails=[])
    page = client.get(reverse("experiments:list")).text
    assert "Cost per call" in page
