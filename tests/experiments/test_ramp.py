"""The optional ramp: variants start at 5% and widen (25%, then the target) while guardrails hold.

Real PostgreSQL; the beat path runs the results job on stored calls."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.experiments.services import (
    experiment_create,
    experiment_ramp_step,
    experiment_start,
    experiment_update,
    variant_pause,
    weights_set,
)
from apps.experiments.services.ramp import next_share
from apps.results.ramp import guardrails_hold
from apps.results.services import results_compute, results_refresh_running
from tests.experiments.test_pages import new_form
from tests.factories import make_experiment
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def weights_of(experiment):
    return dict(experiment.variants.values_list("key", "weight"))


def buckets_of(experiment) -> dict[str, int]:
    """How many of the 10,000 buckets each variant owns, counted from the stored layout."""
    keys = dict(experiment.variants.values_list("id", "key"))
    owned: dict[str, int] = {}
    for start, end, variant_id in experiment.bucket_layout:
        owned[keys[variant_id]] = owned.get(keys[variant_id], 0) + end - start
    return owned


def ramped(agent, user, weights=(50, 50), **kwargs):
    experiment = make_experiment(agent=agent, user=user, weights=weights, ramp=True, **kwargs)
    experiment_start(experiment=experiment, user=user)
    experiment.refresh_from_db()
    return experiment


# the steps, pure


@pytest.mark.parametrize(
    ("current", "target", "step"),
    [
        (5, 50, 25),
        (25, 50, 50),
        (50, 50, None),
        (5, 20, 20),
        (3, 3, None),
        (5, 25, 25),
        (0, 0, None),
        (5, 100, 25),
    ],
)
def test_the_steps_are_5_then_25_then_the_target(current, target, step):
    assert next_share(current, target) == step


# start


def test_start_with_ramp_puts_b_at_5_percent_and_remembers_the_target(agent, operator):
    experiment = ramped(agent, operator)
    assert weights_of(experiment) == {"control": 95, "b": 5}
    assert experiment.ramp_target == {"control": 50, "b": 50}
    assert buckets_of(experiment) == {"control": 9500, "b": 500}
    ids = dict(experiment.variants.values_list("key", "id"))
    assert experiment.phases[0]["weights"] == {str(ids["control"]): 95, str(ids["b"]): 5}
    entry = AuditEntry.objects.get(action="experiment.start")
    assert entry.after["ramp_target"] == {"control": 50, "b": 50}


def test_start_with_ramp_and_three_arms_gives_each_variant_5(agent, operator):
    experiment = ramped(agent, operator, weights=(40, 30, 30))
    assert weights_of(experiment) == {"control": 90, "b": 5, "c": 5}
    assert experiment.ramp_target == {"control": 40, "b": 30, "c": 30}


def test_a_target_below_5_starts_at_its_target_and_never_widens(agent, operator):
    experiment = ramped(agent, operator, weights=(97, 3))
    assert weights_of(experiment) == {"control": 97, "b": 3}
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) is None
    assert weights_of(experiment) == {"control": 97, "b": 3}


def test_ramp_off_starts_at_the_split_on_screen_and_never_steps(agent, operator):
    experiment = make_experiment(agent=agent, user=operator)
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 50, "b": 50}
    assert experiment.ramp_target == {}
    version = experiment.weights_version
    weights_set(experiment=experiment, weights={"control": 95, "b": 5}, user=operator)
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) is None
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 95, "b": 5}
    assert experiment.weights_version == version + 1  # only the person's change


# steps


def test_holding_guardrails_widen_to_25_then_the_target_then_stay(agent, operator):
    experiment = ramped(agent, operator)
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) == {
        "control": 75,
        "b": 25,
    }
    experiment.refresh_from_db()
    assert buckets_of(experiment) == {"control": 7500, "b": 2500}
    assert len(experiment.phases) == 2
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True})
    assert weights_of(experiment) == {"control": 50, "b": 50}
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) is None
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 50, "b": 50}
    assert len(experiment.phases) == 3
    steps = AuditEntry.objects.filter(action="experiment.weights", actor_label="ramp job")
    assert [e.after for e in steps.order_by("id")] == [
        {"control": 75, "b": 25},
        {"control": 50, "b": 50},
    ]


@pytest.mark.parametrize("holds", [{"b": False}, {}, {"b": 1}, {"b": "yes"}, {"z": True}])
def test_a_guardrail_not_shown_safe_keeps_the_variant_where_it_is(agent, operator, holds):
    experiment = ramped(agent, operator)
    assert experiment_ramp_step(experiment=experiment, guardrails_hold=holds) is None
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 95, "b": 5} and len(experiment.phases) == 1


def test_each_variant_widens_on_its_own_guardrails(agent, operator):
    experiment = ramped(agent, operator, weights=(40, 30, 30))
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True, "c": False})
    assert weights_of(experiment) == {"control": 70, "b": 25, "c": 5}
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True, "c": True})
    assert weights_of(experiment) == {"control": 45, "b": 30, "c": 25}
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True, "c": True})
    assert weights_of(experiment) == {"control": 40, "b": 30, "c": 30}


def test_a_paused_variant_is_never_widened(agent, operator):
    experiment = ramped(agent, operator)
    variant_pause(experiment=experiment, variant_key="b", reason="Transfers up", user=operator)
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) is None
    assert weights_of(experiment) == {"control": 100, "b": 0}


def test_a_hand_set_split_widens_only_as_far_as_the_control_has_room(agent, operator):
    experiment = ramped(agent, operator, weights=(40, 30, 30))
    weights_set(experiment=experiment, weights={"control": 2, "b": 5, "c": 93}, user=operator)
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True})
    assert weights_of(experiment) == {"control": 0, "b": 7, "c": 93}


def test_a_stopped_experiment_does_not_step(agent, operator):
    from apps.experiments.services import experiment_stop

    experiment = ramped(agent, operator)
    experiment_stop(experiment=experiment, user=operator)
    assert experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True}) is None
    assert weights_of(experiment) == {"control": 95, "b": 5}


# refusals


def test_ramp_with_optimize_is_refused_and_nothing_is_written(agent, operator):
    with pytest.raises(ValidationError, match="optimize mode already moves traffic"):
        experiment_create(
            agent=agent, name="Both", goal_kind="conversion", optimize=True, ramp=True
        )
    assert not Experiment.objects.exists()
    draft = make_experiment(agent=agent, user=operator, optimize=True)
    with pytest.raises(ValidationError, match="optimize mode already moves traffic"):
        experiment_update(
            experiment=draft, name="x", goal_kind="conversion", optimize=True, ramp=True
        )
    draft.refresh_from_db()
    assert draft.ramp is False and draft.name == "Warmer greeting"


def test_a_draft_made_inconsistent_behind_the_services_back_cannot_start(agent, operator):
    draft = make_experiment(agent=agent, user=operator, optimize=True)
    Experiment.objects.filter(pk=draft.pk).update(ramp=True)
    with pytest.raises(ValidationError, match="optimize mode already moves traffic"):
        experiment_start(experiment=draft, user=operator)
    draft.refresh_from_db()
    assert draft.status == "draft" and weights_of(draft) == {"control": 50, "b": 50}


# the results job (the beat path)


def test_the_results_job_widens_once_min_calls_are_in_the_current_phase(agent, operator):
    experiment = ramped(agent, operator, guardrails=[])
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=99, prefix="p1")
    results_refresh_running()
    assert weights_of(experiment) == {"control": 95, "b": 5}  # 99 < 100 calls
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=1, prefix="p1x")
    results_refresh_running()
    assert weights_of(experiment) == {"control": 75, "b": 25}
    results_refresh_running()  # the new phase has no calls yet: it stays
    assert weights_of(experiment) == {"control": 75, "b": 25}
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=100, prefix="p2")
    results_refresh_running()
    assert weights_of(experiment) == {"control": 50, "b": 50}


def test_the_results_job_holds_a_variant_whose_guardrail_is_not_yet_shown_safe(agent, operator):
    experiment = ramped(agent, operator)  # guardrail: transfer rate, 3 points
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=150, transferred={"b": 0.06})
    results_refresh_running()
    snapshot = experiment.snapshots.latest("computed_at")
    (guard,) = snapshot.result.guardrails
    assert "b" in guard.unproven and "b" not in guard.worse  # the precondition: not yet safe
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 95, "b": 5} and len(experiment.phases) == 1


def test_guardrails_hold_needs_every_guardrail_shown_safe_and_the_calls(agent, operator):
    experiment = ramped(agent, operator)  # guardrail: transfer rate, 3 points
    calls = add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=3000, transferred={})
    snapshot = results_compute(experiment=experiment)
    (row,) = [r for r in snapshot.result.guardrails[0].variants if r.key == "b"]
    # independently, from the calls the test made: the observed difference in transfer rate
    # lies in the stored range, whose worse end is within the 3-point threshold
    rate = {
        key: np.mean([c.transferred for c in calls if c.variant.key == key])
        for key in ("control", "b")
    }
    assert row.ci_low <= rate["b"] - rate["control"] <= row.ci_high < 0.03
    assert row.shown_safe is True
    assert guardrails_hold(experiment=experiment, snapshot=snapshot) == {"b": True}
    b_calls = sum(1 for c in calls if c.variant.key == "b")
    Experiment.objects.filter(pk=experiment.pk).update(min_calls_per_arm=b_calls + 1)
    experiment.refresh_from_db()
    assert guardrails_hold(experiment=experiment, snapshot=snapshot) == {"b": False}


def test_the_results_job_widens_a_variant_whose_guardrail_is_shown_safe(agent, operator):
    experiment = ramped(agent, operator)
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=3000, transferred={})
    results_refresh_running()
    assert weights_of(experiment) == {"control": 75, "b": 25}
    entry = AuditEntry.objects.filter(action="experiment.weights").latest("id")
    assert entry.actor_label == "ramp job" and entry.after == {"control": 75, "b": 25}


def test_a_guardrail_with_no_variance_is_not_proof_and_holds_the_ramp(agent, operator):
    # no transfers at all on either arm: the analysis calls nothing shown safe from it
    experiment = ramped(agent, operator)
    zero = {"control": 0.0, "b": 0.0}
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=500, transferred=zero)
    results_refresh_running()
    assert weights_of(experiment) == {"control": 95, "b": 5}


def test_a_variant_shown_worse_is_paused_by_the_guardrail_job_and_not_widened(agent, operator):
    experiment = ramped(agent, operator)
    worse = {"control": 0.05, "b": 0.20}  # 15 points more transfers, threshold 3
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=3000, transferred=worse)
    results_refresh_running()
    results_refresh_running()
    assert weights_of(experiment) == {"control": 100, "b": 0}
    assert not AuditEntry.objects.filter(actor_label="ramp job").exists()


# the page and the API


def test_the_page_says_where_the_ramp_is(client, operator, agent):
    experiment = ramped(agent, operator)
    client.force_login(operator)
    page = client.get(experiment.get_absolute_url()).text
    name = experiment.variants.get(key="b").name
    line = f"Ramping: {name} at 5% now; it widens to 25% once its guardrails are shown safe."
    assert line in page
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True})
    experiment_ramp_step(experiment=experiment, guardrails_hold={"b": True})
    assert "Ramping:" not in client.get(experiment.get_absolute_url()).text


def test_the_form_offers_ramp_and_refuses_it_with_optimize(client, operator, agent):
    client.force_login(operator)
    assert "Ramp up: start the variants at 5%" in client.get(reverse("experiments:new")).text
    refused = client.post(reverse("experiments:new"), new_form(agent, ramp="on", optimize="on"))
    assert refused.status_code == 200 and "optimize mode already moves traffic" in refused.text
    assert not Experiment.objects.exists()
    client.post(reverse("experiments:new"), new_form(agent, ramp="on"))
    assert Experiment.objects.get().ramp is True


def test_the_api_takes_and_shows_ramp(api, admin_key, agent, operator):
    body = {"agent": agent.slug, "name": "Ramped", "goal": {"kind": "conversion"}, "ramp": True}
    created = api.post("/api/v1/experiments", body, key=admin_key)
    assert created.status_code == 201 and created.json()["ramp"] is True
    pk = created.json()["id"]
    refused = api._call("patch", f"/api/v1/experiments/{pk}", {"optimize": True}, key=admin_key)
    assert refused.status_code == 400 and "optimize mode" in str(refused.json())
    assert Experiment.objects.get(pk=pk).optimize is False
    off = api._call("patch", f"/api/v1/experiments/{pk}", {"ramp": False}, key=admin_key)
    assert off.status_code == 200 and off.json()["ramp"] is False
