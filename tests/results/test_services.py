import numpy as np
import pytest
from django.core.exceptions import ValidationError
from scipy.stats import dirichlet_multinomial, multinomial
from scipy.stats import t as t_dist

from apps.assignments.models import Exposure
from apps.experiments.services import experiment_start, experiment_stop, winner_apply
from apps.results.selectors import latest_snapshot
from apps.results.services import results_compute, results_refresh_running
from apps.stats import srm
from tests.factories import make_experiment
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def expose(experiment, counts):
    for key, n in counts.items():
        Exposure.objects.create(
            experiment=experiment,
            variant=experiment.variants.get(key=key),
            phase=experiment.weights_version,
            count=n,
        )


def row(snapshot, key):
    return next(v for v in snapshot.data["variants"] if v["key"] == key)


def test_a_clear_improvement_is_declared_winning(running):
    add_calls(running, {"control": 0.20, "b": 0.40}, per_variant=6000)
    expose(running, {"control": 6000, "b": 6000})
    snapshot = results_compute(experiment=running)
    assert snapshot.verdict_code == "winning"
    b = row(snapshot, "b")
    assert b["verdict"]["code"] == "winning" and "Safe to apply" in b["verdict"]["sentence"]
    assert b["lift"]["ci_low"] > 0 and b["chance_to_win"] > 0.99
    assert snapshot.data["best"] == "b"
    control = row(snapshot, "control")
    # The means are the plain conversion rates (one call per caller here).
    calls = running.calls.filter(variant__key="control")
    assert control["mean"] == pytest.approx(calls.filter(converted=True).count() / 6000)


def test_few_calls_say_no_difference_yet_and_how_many_more(running):
    add_calls(running, {"control": 0.2, "b": 0.25}, per_variant=60)
    snapshot = results_compute(experiment=running)
    assert snapshot.verdict_code == "no_difference_yet"
    assert "more calls per version are needed" in snapshot.verdict_sentence
    assert row(snapshot, "b")["verdict"]["calls_still_needed"] > 0


def test_a_broken_split_is_flagged_and_blocks_a_winner(running):
    """The split check counts callers (units), not assignment requests: 1,200 vs 800
    callers on a 50/50 split. Its p-value is 1 / the Bayes factor of a Dirichlet-multinomial
    against the split's multinomial (apps.stats.srm), computed here with scipy."""
    add_calls(running, {"control": 0.20}, per_variant=1200)
    add_calls(running, {"b": 0.40}, per_variant=800, seed=2)
    expose(running, {"control": 1000, "b": 1000})  # requests: not what is checked
    snapshot = results_compute(experiment=running)
    assert snapshot.verdict_code == "srm"
    assert snapshot.data["srm"]["ok"] is False
    assert snapshot.data["srm"]["units"] == {"control": 1200, "b": 800}
    c = srm.DEFAULT_CONCENTRATION
    x = [1200, 800]
    log_bf = dirichlet_multinomial.logpmf(x, [c / 2, c / 2], 2000) - multinomial.logpmf(
        x, 2000, [0.5, 0.5]
    )
    assert snapshot.data["srm"]["p_value"] == pytest.approx(float(np.exp(-log_bf)), rel=1e-6)


def test_a_worse_guardrail_blocks_a_winner(running):
    add_calls(
        running,
        {"control": 0.20, "b": 0.40},
        per_variant=2000,
        transferred={"control": 0.05, "b": 0.40},
    )
    snapshot = results_compute(experiment=running)
    assert snapshot.verdict_code != "winning"
    b = row(snapshot, "b")
    assert b["verdict"]["code"] == "guardrail"
    assert "transfer rate" in b["verdict"]["sentence"]
    assert snapshot.data["guardrails"][0]["worse"] == ["b"]


def test_the_fixed_p_value_is_welch_on_the_relative_lift_by_the_delta_method(running):
    add_calls(running, {"control": 0.2, "b": 0.26}, per_variant=800)
    snapshot = results_compute(experiment=running)
    c, v = (
        np.array(
            list(running.calls.filter(variant__key=k).values_list("converted", flat=True)),
            dtype=float,
        )
        for k in ("control", "b")
    )
    mc, mv, vc, vv, n = c.mean(), v.mean(), c.var(ddof=1), v.var(ddof=1), 800
    se = np.sqrt(vv / (n * mc**2) + mv**2 * vc / (n * mc**4))
    dof = (vc / n + vv / n) ** 2 / ((vc / n) ** 2 / (n - 1) + (vv / n) ** 2 / (n - 1))
    p = 2 * t_dist.sf(abs((mv - mc) / mc) / se, dof)
    assert row(snapshot, "b")["fixed_p_value"] == pytest.approx(p, rel=1e-6)
    assert row(snapshot, "b")["lift"]["relative"] == pytest.approx((mv - mc) / mc)


def test_stop_freezes_the_results_and_later_calls_do_not_move_them(
    running, operator, django_capture_on_commit_callbacks
):
    add_calls(running, {"control": 0.2, "b": 0.3}, per_variant=300)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_stop(experiment=running, user=operator)
    frozen = latest_snapshot(running)
    assert frozen is not None and frozen.frozen and frozen.calls == 600
    add_calls(running, {"control": 0.9, "b": 0.9}, per_variant=100, prefix="late")
    again = results_compute(experiment=running, frozen=True)
    assert again.pk == frozen.pk and latest_snapshot(running).calls == 600


def test_refresh_running_covers_running_and_unfrozen_stopped(agent, operator):
    a = make_experiment(agent=agent, user=operator, name="A")
    experiment_start(experiment=a, user=operator)
    experiment_stop(experiment=a, user=operator)  # no on-commit here: nothing frozen yet
    b = make_experiment(agent=agent, user=operator, name="B")
    experiment_start(experiment=b, user=operator)
    assert results_refresh_running() == 2
    assert a.snapshots.get().frozen and not b.snapshots.get().frozen
    assert results_refresh_running() == 1  # a stays frozen once


def test_a_custom_goal_without_judged_calls_waits(agent, operator, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://127.0.0.1:9/v1", "llama3"
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="custom", goal_criteria="Learns the budget."
    )
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=50)
    snapshot = results_compute(experiment=experiment)
    assert snapshot.verdict_code == "no_difference_yet"
    assert row(snapshot, "b")["units"] == 0


def test_a_custom_goal_counts_pass_and_fail_and_keeps_unknown_and_errors_apart(
    agent, operator, settings
):
    from apps.judging.models import Judgement
    from apps.judging.prompt import JUDGE_PROMPT_VERSION
    from apps.judging.services import criterion_current

    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://127.0.0.1:9/v1", "llama3"
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="custom", goal_criteria="Learns the budget."
    )
    experiment_start(experiment=experiment, user=operator)
    calls = add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=40)
    criterion = criterion_current(experiment=experiment)
    plan = {
        "control": ["pass"] * 10 + ["fail"] * 20 + ["unknown"] * 5 + ["error"] * 5,
        "b": ["pass"] * 30 + ["fail"] * 10,
    }
    seen = {"control": 0, "b": 0}
    for call in calls:
        key = call.variant.key
        Judgement.objects.create(
            call=call,
            criterion=criterion,
            model="llama3",
            prompt_version=JUDGE_PROMPT_VERSION,
            verdict=plan[key][seen[key]],
            reasoning="...",
        )
        seen[key] += 1
    snapshot = results_compute(experiment=experiment)
    assert row(snapshot, "control")["mean"] == pytest.approx(10 / 30)
    assert row(snapshot, "control")["units"] == 30  # unknown and errors left out
    assert row(snapshot, "b")["mean"] == pytest.approx(30 / 40)
    assert snapshot.data["judging"]["control"] == {"pass": 10, "fail": 20, "unknown": 5, "error": 5}


def test_a_winner_not_yet_shown_safe_needs_a_reason_to_apply(running, operator, manager):
    """Issue 11 item 8: "winning" for apply purposes only when the guardrails are shown safe;
    the apply check reads the frozen verdict code."""
    add_calls(running, {"control": 0.20, "b": 0.40}, per_variant=1500)
    experiment_stop(experiment=running, user=operator)
    frozen = results_compute(experiment=running, frozen=True)
    assert frozen.verdict_code == "guardrail_pending"
    with pytest.raises(ValidationError, match="do not call Variant B a winner") as error:
        winner_apply(experiment=running, variant_key="b", user=manager)
    assert error.value.code == "reason"
    winner_apply(experiment=running, variant_key="b", user=manager, reason="Transcripts agree.")
    running.refresh_from_db()
    assert running.status == "applied"


def test_a_winner_frozen_before_guardrails_had_to_be_shown_safe_needs_a_reason(
    running, operator, manager
):
    """A snapshot stored by the old rule ("winning" whatever the guardrails' ranges) is not
    taken as safe by the apply check."""
    add_calls(running, {"control": 0.20, "b": 0.40}, per_variant=300)
    experiment_stop(experiment=running, user=operator)
    frozen = results_compute(experiment=running, frozen=True)
    old = {**frozen.data, "guardrails": [{"metric": "transfer_rate", "worse": [], "variants": []}]}
    old["variants"][1]["verdict"] = {"code": "winning", "sentence": "B converts. Safe to apply."}
    type(frozen).objects.filter(pk=frozen.pk).update(data=old, verdict_code="winning")
    with pytest.raises(ValidationError) as error:
        winner_apply(experiment=running, variant_key="b", user=manager)
    assert error.value.code == "reason"
