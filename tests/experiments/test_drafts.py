"""Forms that prevent errors: the agent preselected from its link, limits stated while drafting,
a draft's settings edited, a draft deleted, variants added with an even share or removed, and a
start that uses the split on screen. Each through one service, from the page and the API."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps import metrics
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment, Status, Variant
from apps.experiments.services import (
    even_weights,
    experiment_create,
    experiment_delete,
    experiment_start,
    experiment_start_with_weights,
    experiment_update,
    variant_add,
    variant_remove,
)
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db

SETTINGS = {
    "name": "Shorter greeting",
    "description": "Faster calls.",
    "goal_kind": "conversion",
    "guardrails": ["transfer_rate"],
    "segments": ["hour_of_day", "weekday", "caller_country", "ended_by"],  # the boxes ticked
    "unit": "caller",
    "min_lift_percent": "10",
    "min_effect_points": "0.05",
}


def url(name, *args):
    return reverse(f"experiments:{name}", args=args)


def weights_of(experiment):
    return dict(experiment.variants.values_list("key", "weight"))


def snapshot(experiment):
    """What a refusal must leave as it was."""
    experiment = Experiment.objects.get(pk=experiment.pk)
    return (
        {f: getattr(experiment, f) for f in ("name", "description", "goal_kind", "status")},
        weights_of(experiment),
        experiment.weights_version,
        AuditEntry.objects.count(),
    )


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


# The agent preselected from its link


@pytest.mark.parametrize("by", ["id", "slug"])
def test_new_experiment_link_preselects_that_agent_by_id_or_slug(as_operator, operator, by):
    make_agent(name="Billing", user=operator)  # listed first, the form's default
    desk = make_agent(name="Zed front desk", user=operator)
    page = as_operator.get(url("new") + f"?agent={desk.pk if by == 'id' else desk.slug}").text
    assert f'<option value="{desk.slug}" selected>' in page
    assert 'value="billing" selected' not in page


def test_new_experiment_link_to_an_unknown_agent_opens_the_form_as_usual(as_operator, agent):
    response = as_operator.get(url("new") + "?agent=999999")
    assert response.status_code == 200 and f'<option value="{agent.slug}"' in response.text
    assert f'<option value="{agent.slug}" selected>' not in response.text  # no agent claimed


# Limits stated while drafting


def test_drafting_on_an_agent_with_a_running_experiment_says_it_cannot_start_yet(
    as_operator, running
):
    page = as_operator.get(url("new") + f"?agent={running.agent.slug}").text
    assert "“Warmer greeting” is running on" in page and "one experiment runs per agent" in page
    fragment = as_operator.get(
        url("draft-limits"), {"agent": running.agent.slug, "goal_kind": "conversion"}
    ).text
    assert "can start only after that one stops" in fragment and "<html" not in fragment


def test_drafting_a_custom_goal_without_a_judge_says_so(as_operator, agent, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "", ""
    fragment = as_operator.get(
        url("draft-limits"), {"agent": agent.slug, "goal_kind": "custom"}
    ).text
    assert "A custom goal needs an LLM judge" in fragment
    conversion = as_operator.get(
        url("draft-limits"), {"agent": agent.slug, "goal_kind": "conversion"}
    ).text
    assert "judge" not in conversion and "running" not in conversion


def test_a_draft_page_says_what_keeps_it_from_starting(as_operator, agent, operator, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "", ""
    other = make_experiment(agent=agent, user=operator, name="Already on")
    experiment_start(experiment=other, user=operator)
    draft = make_experiment(agent=agent, user=operator, goal_kind="custom", goal_criteria="Kind.")
    page = as_operator.get(url("detail", draft.pk)).text
    assert "“Already on” is running on" in page
    assert "A custom goal needs an LLM judge to score each call, and none is set up" in page


def test_an_experiment_s_own_judge_is_no_limit(as_operator, agent, operator, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "", ""
    draft = make_experiment(agent=agent, user=operator, goal_kind="custom", goal_criteria="Kind.")
    draft.judge_base_url, draft.judge_model = "http://judge.test/v1", "judge-1"
    draft.save(update_fields=["judge_base_url", "judge_model"])
    assert "needs an LLM judge" not in as_operator.get(url("detail", draft.pk)).text
    assert "needs an LLM judge" not in as_operator.get(url("edit", draft.pk)).text


def test_a_judge_set_up_for_the_site_is_no_limit(as_operator, agent, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://judge.test/v1", "judge-1"
    fragment = as_operator.get(
        url("draft-limits"), {"agent": agent.slug, "goal_kind": "custom"}
    ).text
    assert "judge" not in fragment


# Optimize only for the goals it serves


def test_optimize_is_refused_for_a_goal_it_does_not_serve(as_operator, agent):
    form = {**SETTINGS, "agent": agent.slug, "goal_kind": "duration", "optimize": "on"}
    page = as_operator.post(url("new"), form)
    assert page.status_code == 200
    assert "Optimize works only for goals whose calls pass or fail" in page.text
    assert not Experiment.objects.exists()


def test_the_optimize_box_shows_only_for_goals_that_pass_or_fail(as_operator, agent):
    page = as_operator.get(url("new")).text
    assert '<div class="checkbox-field" data-show-when="optimizable">' in page
    # each goal says whether optimize serves it, from the registry's `optimizable`
    for key, metric in metrics.for_agent(agent.pk).items():
        flag = "yes" if metric.optimizable else "no"
        assert re.search(rf'value="{key}"[^>]*data-optimizable="{flag}"', page), key


def test_draft_update_refuses_optimize_for_sentiment_and_changes_nothing(experiment, operator):
    before = snapshot(experiment)
    with pytest.raises(ValidationError, match="Optimize mode works for goals whose calls pass"):
        experiment_update(
            experiment=experiment,
            user=operator,
            name="X",
            goal_kind="sentiment",
            min_lift=0.05,
            optimize=True,
        )
    assert snapshot(experiment) == before


# A draft's settings edited


def test_a_draft_s_settings_are_edited_from_its_page(as_operator, experiment):
    page = as_operator.get(url("edit", experiment.pk)).text
    assert 'value="Warmer greeting"' in page and "Save settings" in page
    form = {**SETTINGS, "name": "Warmest greeting", "goal_kind": "custom", "goal_criteria": "Kind"}
    response = as_operator.post(url("edit", experiment.pk), form)
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert (experiment.name, experiment.goal_kind, experiment.goal_criteria) == (
        "Warmest greeting",
        "custom",
        "Kind",
    )
    assert experiment.min_lift == pytest.approx(0.10)
    entry = AuditEntry.objects.get(action="experiment.update")
    assert set(entry.after) == {"name", "description", "goal_kind", "goal_criteria", "min_lift"}


def test_saving_unchanged_settings_records_nothing(experiment, operator):
    count = AuditEntry.objects.count()
    experiment_update(
        experiment=experiment,
        user=operator,
        name=experiment.name,
        description=experiment.description,
        goal_kind=experiment.goal_kind,
        guardrails=experiment.guardrails,
        min_lift=experiment.min_lift,
    )
    assert AuditEntry.objects.count() == count


def test_settings_of_a_running_experiment_are_refused_and_unchanged(as_operator, running, operator):
    before = snapshot(running)
    with pytest.raises(ValidationError, match="its settings can change only while it is draft"):
        experiment_update(experiment=running, user=operator, name="Late", goal_kind="conversion")
    page = as_operator.post(url("edit", running.pk), {**SETTINGS, "name": "Late"})
    assert "its settings can change only while it is draft" in page.text
    assert snapshot(running) == before


def test_a_viewer_cannot_edit_or_delete_a_draft(client, viewer, experiment):
    client.force_login(viewer)
    before = snapshot(experiment)
    assert client.get(url("edit", experiment.pk)).status_code == 403
    assert client.post(url("edit", experiment.pk), SETTINGS).status_code == 403
    assert client.post(url("delete", experiment.pk)).status_code == 403
    assert client.post(url("variant-remove", experiment.pk, "b")).status_code == 403
    assert snapshot(experiment) == before


# A draft deleted


def test_a_draft_is_deleted_from_its_page_and_audited(as_operator, experiment):
    response = as_operator.post(url("delete", experiment.pk), follow=True)
    assert "Draft “Warmer greeting” deleted." in response.text
    assert not Experiment.objects.filter(pk=experiment.pk).exists()
    assert not Variant.objects.filter(experiment_id=experiment.pk).exists()
    entry = AuditEntry.objects.get(action="experiment.delete")
    assert entry.actor_label == "olivia" and entry.object_id == str(experiment.pk)
    assert entry.object_repr == "Warmer greeting"


def test_an_experiment_that_ran_is_not_deleted(as_operator, running, operator):
    before = snapshot(running)
    with pytest.raises(ValidationError, match="it can be deleted only while it is draft"):
        experiment_delete(experiment=running, user=operator)
    page = as_operator.post(url("delete", running.pk), follow=True).text
    assert "it can be deleted only while it is draft" in page
    assert snapshot(running) == before


# Variants added with an even share, removed before the start


@pytest.mark.parametrize(
    ("keys", "weights"),
    [
        (["control", "b"], [50, 50]),
        (["control", "b", "c"], [33, 33, 34]),
        (["control", "b", "c", "d", "e", "f", "g"], [14, 14, 14, 14, 14, 15, 15]),
    ],
)
def test_even_weights_are_whole_percents_that_add_up_to_100(keys, weights):
    assert list(even_weights(keys).values()) == weights


def test_a_new_variant_gets_an_even_share_so_the_first_start_works(as_operator, agent, operator):
    draft = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    as_operator.post(url("variant-new", draft.pk))
    assert weights_of(draft) == {"control": 50, "b": 50}
    page = as_operator.get(url("variant", draft.pk, "b")).text
    assert "traffic is split evenly: Control 50%, Variant B 50%." in page
    variant_add(experiment=draft, user=operator)
    assert weights_of(draft) == {"control": 33, "b": 33, "c": 34}
    experiment_start(experiment=draft, user=operator)  # no 0% variant to refuse it
    assert Experiment.objects.get(pk=draft.pk).status == Status.RUNNING


def test_the_api_adds_a_variant_with_an_even_share(api, admin_key, agent, operator):
    draft = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    response = api.post(f"/api/v1/experiments/{draft.pk}/variants", {"name": "Warm"}, key=admin_key)
    assert response.status_code == 201
    assert {v["key"]: v["weight"] for v in response.json()["variants"]} == {
        "control": 50,
        "b": 50,
    }


def test_a_variant_is_removed_from_a_draft_and_audited(as_operator, agent, operator):
    draft = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    variant_add(experiment=draft, user=operator)
    variant_add(experiment=draft, user=operator)
    response = as_operator.post(url("variant-remove", draft.pk, "c"), follow=True)
    assert "Variant C removed. The split is now Control 50%, Variant B 50%." in response.text
    assert weights_of(draft) == {"control": 50, "b": 50}  # an even split stays even
    entry = AuditEntry.objects.get(action="variant.remove")
    assert entry.actor_label == "olivia" and entry.before["variant"] == "c"


def test_an_uneven_split_gives_the_removed_share_to_the_control(experiment, operator):
    variant_add(experiment=experiment, user=operator)
    from apps.experiments.services import weights_set

    weights_set(experiment=experiment, weights={"control": 60, "b": 30, "c": 10}, user=operator)
    variant_remove(experiment=experiment, variant_key="b", user=operator)
    assert weights_of(experiment) == {"control": 90, "c": 10}


def test_the_control_is_never_removed(as_operator, experiment, operator):
    before = snapshot(experiment)
    with pytest.raises(ValidationError, match="The control cannot be removed"):
        variant_remove(experiment=experiment, variant_key="control", user=operator)
    page = as_operator.post(url("variant-remove", experiment.pk, "control"), follow=True).text
    assert "The control cannot be removed" in page
    assert snapshot(experiment) == before


def test_a_variant_of_a_running_experiment_is_not_removed(running, operator):
    before = snapshot(running)
    with pytest.raises(ValidationError, match="variants can be removed only while it is draft"):
        variant_remove(experiment=running, variant_key="b", user=operator)
    assert snapshot(running) == before


def test_the_draft_page_offers_remove_for_variants_but_not_the_control(as_operator, experiment):
    page = as_operator.get(url("detail", experiment.pk)).text
    assert url("variant-remove", experiment.pk, "b") in page
    assert url("variant-remove", experiment.pk, "control") not in page
    assert url("edit", experiment.pk) in page and url("delete", experiment.pk) in page


# Start uses the split on screen


def test_start_saves_the_split_on_screen_first(as_operator, experiment):
    response = as_operator.post(
        url("start", experiment.pk),
        {"w_control": "70", "w_b": "30", "expected_version": str(experiment.weights_version)},
        follow=True,
    )
    assert "The split on screen was saved first." in response.text
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    assert weights_of(experiment) == {"control": 70, "b": 30}


def test_a_split_on_screen_that_is_not_100_starts_nothing_and_saves_nothing(
    as_operator, experiment
):
    before = snapshot(experiment)
    response = as_operator.post(
        url("start", experiment.pk), {"w_control": "70", "w_b": "40"}, follow=True
    )
    assert "Traffic weights add up to 110%; they must add up to 100%." in response.text
    assert snapshot(experiment) == before


def test_a_refused_start_does_not_keep_the_split_it_brought(experiment, operator, agent):
    other = make_experiment(agent=agent, user=operator, name="Already on")
    experiment_start(experiment=other, user=operator)
    before = snapshot(experiment)
    with pytest.raises(ValidationError, match="is already running"):
        experiment_start_with_weights(
            experiment=experiment, user=operator, weights={"control": 80, "b": 20}
        )
    assert snapshot(experiment) == before


def test_the_start_form_is_marked_for_the_split_on_screen(as_operator, experiment):
    page = as_operator.get(url("detail", experiment.pk)).text
    assert "data-start" in page and 'data-name="Warmer greeting"' in page


# The API: the same services


def test_the_api_edits_a_draft_keeping_what_it_leaves_out(api, admin_key, experiment):
    response = api._call(
        "patch",
        f"/api/v1/experiments/{experiment.pk}",
        {"name": "Warmest", "goal": {"kind": "duration", "direction": "lower"}},
        key=admin_key,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Warmest" and body["goal"]["kind"] == "duration"
    assert body["description"] == "Thanking callers should make more of them book."
    assert AuditEntry.objects.get(action="experiment.update").actor_label == "key:Test automation"


def test_the_api_refuses_to_edit_or_delete_a_running_experiment(api, admin_key, running):
    before = snapshot(running)
    path = f"/api/v1/experiments/{running.pk}"
    patched = api._call("patch", path, {"name": "Late"}, key=admin_key)
    assert patched.status_code == 400 and "only while it is draft" in patched.json()["error"]
    deleted = api._call("delete", path, key=admin_key)
    assert deleted.status_code == 400 and "only while it is draft" in deleted.json()["error"]
    assert snapshot(running) == before


def test_the_api_deletes_a_draft(api, admin_key, experiment):
    response = api._call("delete", f"/api/v1/experiments/{experiment.pk}", key=admin_key)
    assert response.status_code == 204
    assert not Experiment.objects.exists()
    assert AuditEntry.objects.get(action="experiment.delete").actor_label == "key:Test automation"


def test_a_router_key_cannot_edit_or_delete_a_draft(api, router_key, experiment):
    before = snapshot(experiment)
    path = f"/api/v1/experiments/{experiment.pk}"
    assert api._call("patch", path, {"name": "X"}, key=router_key).status_code == 403
    assert api._call("delete", path, key=router_key).status_code == 403
    assert snapshot(experiment) == before


def test_a_draft_keeps_the_segments_ticked_and_a_field_set_through_the_api(
    as_operator, experiment, operator
):
    experiment_update(
        experiment=experiment,
        user=operator,
        name=experiment.name,
        goal_kind="conversion",
        guardrails=["transfer_rate"],
        segments=["weekday", "field:plan"],
    )
    page = as_operator.get(url("edit", experiment.pk)).text
    assert "Segments kept up to date" in page and "Custom field “plan”" in page
    assert re.search(r'value="field:plan"[^>]*checked', page)
    assert not re.search(r'value="hour_of_day"[^>]*checked', page)
    form = {**SETTINGS, "segments": ["weekday", "field:plan", "ended_by"]}
    assert as_operator.post(url("edit", experiment.pk), form).status_code == 302
    experiment.refresh_from_db()
    assert experiment.segments == ["weekday", "field:plan", "ended_by"]
    bad = as_operator.post(url("edit", experiment.pk), {**SETTINGS, "segments": ["colour"]})
    assert bad.status_code == 200 and "colour" in bad.text  # the form says which is wrong
    experiment.refresh_from_db()
    assert experiment.segments == ["weekday", "field:plan", "ended_by"]
