"""The operator's pages: what each role may do, refusals shown next to the input."""

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment, Status
from apps.experiments.services import experiment_start, experiment_stop
from tests.experiments.test_services import snapshot_saying

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"experiments:{name}", args=args)


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


def new_form(agent, **extra):
    return {
        "agent": agent.slug,
        "name": "Shorter greeting",
        "description": "Faster.",
        "goal_kind": "conversion",
        "goal_direction": "",
        "guardrails": ["transfer_rate"],
        "unit": "caller",
        "min_lift_percent": "10",
        **extra,
    }


def test_operator_drafts_an_experiment(as_operator, agent):
    response = as_operator.post(url("new"), new_form(agent))
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == experiment.get_absolute_url()
    assert experiment.min_lift == pytest.approx(0.10) and experiment.goal_direction == "higher"
    assert experiment.variants.get().is_control


def test_custom_goal_without_criterion_is_shown_next_to_the_field(as_operator, agent):
    response = as_operator.post(url("new"), new_form(agent, goal_kind="custom"))
    assert response.status_code == 200
    assert "Describe what a good call looks like" in response.text
    assert 'id="field-goal_criteria"' in response.text and "has-error" in response.text
    assert 'value="Shorter greeting"' in response.text  # what was typed is kept
    assert not Experiment.objects.exists()


def test_viewer_cannot_draft(as_viewer, agent):
    assert as_viewer.get(url("new")).status_code == 403
    assert as_viewer.post(url("new"), new_form(agent)).status_code == 403
    assert "New experiment" not in as_viewer.get(url("list")).text


def test_list_filters_by_status_and_searches(as_viewer, experiment, operator, agent):
    from tests.factories import make_experiment

    other = make_experiment(agent=agent, user=operator, name="Budget question")
    experiment_start(experiment=other, user=operator)
    running = as_viewer.get(url("list") + "?status=running").text
    assert "Budget question" in running and "Warmer greeting" not in running
    found = as_viewer.get(url("list") + "?q=warmer").text
    assert "Warmer greeting" in found and "Budget question" not in found
    assert "matching “zzz”" in as_viewer.get(url("list") + "?q=zzz").text


def test_weights_form_saves_and_refuses_110_keeping_the_input(as_operator, experiment):
    saved = as_operator.post(
        url("weights", experiment.pk),
        {"w_control": "70", "w_b": "30", "expected_version": "2"},
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 200 and "Traffic split saved." in saved.text
    refused = as_operator.post(
        url("weights", experiment.pk),
        {"w_control": "70", "w_b": "40", "expected_version": "3"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert "Traffic weights add up to 110%; they must add up to 100%." in refused.text
    assert 'value="40"' in refused.text and "<html" not in refused.text  # only the fragment
    weights = dict(experiment.variants.values_list("key", "weight"))
    assert weights == {"control": 70, "b": 30}


def test_weights_without_javascript_redirect_after_saving(as_operator, experiment):
    response = as_operator.post(url("weights", experiment.pk), {"w_control": "80", "w_b": "20"})
    assert response.status_code == 302


def test_weights_refuse_words_and_stale_versions(as_operator, experiment):
    words = as_operator.post(url("weights", experiment.pk), {"w_control": "seventy", "w_b": "30"})
    assert words.status_code == 400 and "whole percentages" in words.text
    stale = as_operator.post(
        url("weights", experiment.pk), {"w_control": "60", "w_b": "40", "expected_version": "1"}
    )
    assert stale.status_code == 400 and "Someone else changed the traffic split" in stale.text


def test_viewer_cannot_change_weights_or_run(as_viewer, experiment):
    assert (
        as_viewer.post(url("weights", experiment.pk), {"w_control": "60", "w_b": "40"}).status_code
        == 403
    )
    assert as_viewer.post(url("start", experiment.pk)).status_code == 403
    page = as_viewer.get(url("detail", experiment.pk)).text
    assert "Start experiment" not in page and "Save split" not in page
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT


def test_start_and_stop_from_the_page(as_operator, experiment):
    as_operator.post(url("start", experiment.pk))
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert "Stop experiment" in as_operator.get(url("detail", experiment.pk)).text
    page = as_operator.post(url("stop", experiment.pk), follow=True).text
    assert "results are frozen" in page


def test_refusals_of_start_are_shown(as_operator, agent, operator):
    from tests.factories import make_experiment

    lonely = make_experiment(agent=agent, user=operator, weights=(100, 0))
    page = as_operator.post(url("start", lonely.pk), follow=True).text
    assert "At least two variants need traffic" in page


def test_add_and_edit_a_variant_with_diff(as_operator, agent, operator):
    from apps.experiments.services import experiment_create

    experiment = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    response = as_operator.post(url("variant-new", experiment.pk))
    assert response["Location"] == url("variant", experiment.pk, "b")
    editor = as_operator.get(url("variant", experiment.pk, "b")).text
    assert "No change yet" in editor
    diff = as_operator.post(
        url("variant-diff", experiment.pk),
        {"prompt": "You are the front desk. Greet them warmly."},
        HTTP_HX_REQUEST="true",
    ).text
    assert "<ins>" in diff and "{{caller_name}}" in diff  # lost placeholder is named
    saved = as_operator.post(
        url("variant", experiment.pk, "b"),
        {
            "name": "Warm",
            "prompt": "You are the front desk. Greet {{caller_name}} warmly.",
            "temperature": "0.9",
        },
    )
    assert saved.status_code == 302
    b = experiment.variants.get(key="b")
    assert b.name == "Warm" and b.config_overrides == {"temperature": 0.9}
    assert b.prompt_version.body.endswith("warmly.")


def test_a_running_variant_cannot_be_saved(as_operator, experiment):
    experiment_start(experiment=experiment, user="test")
    page = as_operator.get(url("variant", experiment.pk, "b")).text
    assert "can no longer change" in page and "Save variant" not in page
    refused = as_operator.post(
        url("variant", experiment.pk, "b"), {"name": "X", "prompt": "Changed"}
    )
    assert "variants can be edited only while it is draft" in refused.text


def test_only_managers_apply_and_a_non_winner_needs_a_reason(client, operator, manager, experiment):
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    snapshot_saying(experiment, "no_difference_yet", "No clear difference yet.")
    client.force_login(operator)
    assert client.get(url("apply", experiment.pk) + "?variant=b").status_code == 403
    client.force_login(manager)
    page = client.get(url("apply", experiment.pk) + "?variant=b").text
    assert "current prompt</strong>" in page and "<ins>" in page
    refused = client.post(url("apply", experiment.pk), {"variant": "b", "reason": ""})
    assert "Write why you apply it anyway" in refused.text
    done = client.post(url("apply", experiment.pk), {"variant": "b", "reason": "Reads warmer"})
    assert done.status_code == 302 and done["Location"] == experiment.agent.get_absolute_url()
    experiment.refresh_from_db()
    assert experiment.status == Status.APPLIED


@pytest.mark.parametrize("name", ["new", "list"])
def test_anonymous_people_are_sent_to_login(client, name):
    response = client.get(url(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_page_above_your_role_says_so_in_the_sites_layout(as_viewer, agent):
    response = as_viewer.get(url("new"))
    assert response.status_code == 403
    assert "This needs a role above yours (viewer)." in response.text
    assert "ask a manager or an administrator" in response.text
    assert 'class="topbar"' in response.text
