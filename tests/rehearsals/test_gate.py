"""The start gate: missing, running, stale and failed rehearsals refuse the start with words a
person reads, and write nothing; a passed one starts; a manager's override is audited."""

import pytest
from django.core.exceptions import ValidationError
from scipy import stats as sps

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.experiments.services import (
    experiment_create,
    experiment_start,
    variant_fork,
    variant_update,
    weights_set,
)
from apps.rehearsals.gate import variant_rehearsals
from apps.rehearsals.models import Conversation, GateOverride
from apps.rehearsals.services import (
    experiment_gate_override,
    experiment_rehearse,
    rehearsal_margin_set,
    scenario_create,
)
from tests.rehearsals.helpers import ALSO_GOOD, DATES, FORGETFUL, dental_agent

pytestmark = pytest.mark.django_db


def gated(user, body, dates=DATES):
    agent = dental_agent(user, dates=dates)
    experiment = experiment_create(agent=agent, name="Shorter", goal_kind="conversion", user=user)
    variant_fork(experiment=experiment, body=body, user=user)
    weights_set(experiment=experiment, weights={"control": 50, "b": 50}, user=user)
    return Experiment.objects.get(pk=experiment.pk)


def rehearse(experiment, capture, user, execute=True):
    with capture(execute=execute):
        evaluation = experiment_rehearse(experiment=experiment, variant_key="b", user=user)
    evaluation.refresh_from_db()
    return evaluation


def refused(experiment, user) -> str:
    with pytest.raises(ValidationError) as error:
        experiment_start(experiment=experiment, user=user)
    experiment.refresh_from_db()
    assert experiment.status == "draft" and experiment.started_at is None
    assert not AuditEntry.objects.filter(action="experiment.start").exists()
    return " ".join(error.value.messages)


def test_start_refuses_a_variant_never_rehearsed(sim, operator):
    experiment = gated(operator, ALSO_GOOD)
    said = refused(experiment, operator)
    assert said == (
        "Variant B has not been rehearsed against the control yet. Rehearse it, or ask a "
        "manager to override."
    )


def test_start_refuses_while_the_rehearsal_runs(sim, operator, django_capture_on_commit_callbacks):
    experiment = gated(operator, ALSO_GOOD)
    rehearse(experiment, django_capture_on_commit_callbacks, operator, execute=False)
    assert "still running (0 of 18 simulated calls played)" in refused(experiment, operator)


def test_start_refuses_the_forgetful_variant_with_its_numbers(
    sim, operator, django_capture_on_commit_callbacks
):
    sim.judge_needs = "march 3"  # uneven shares, so the range is not a single point
    experiment = gated(operator, FORGETFUL)
    evaluation = rehearse(experiment, django_capture_on_commit_callbacks, operator)
    control, variant = [], []
    for date in DATES:  # independently: per-scenario pass shares from the stored plays
        for arm, out in (("control", control), ("variant", variant)):
            rows = Conversation.objects.filter(
                evaluation=evaluation, arm=arm, scenario_name=f"Booking on {date}"
            )
            out.append(sum(r.overall == "pass" for r in rows) / rows.count())
    ci = sps.ttest_rel(variant, control).confidence_interval(0.95)
    low, high = (f"{v * 100:+.0f}".replace("-", "\u2212") for v in (ci.low, ci.high))
    said = refused(experiment, operator)
    assert said == (
        f"Variant B's rehearsal failed: it passed {sum(variant) / 3 * 100:.0f}% of scenarios "
        f"against the control's {sum(control) / 3 * 100:.0f}% (range {low} to {high} points). "
        "Fix the prompt, or ask a manager to override."
    )
    assert (sum(control) / 3, sum(variant) / 3) == (pytest.approx(1 / 3), 0.0)


def test_start_passes_a_rehearsed_good_variant(sim, operator, django_capture_on_commit_callbacks):
    experiment = gated(operator, ALSO_GOOD)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    assert [r.state for r in variant_rehearsals(experiment)] == ["passed"]
    assert experiment_start(experiment=experiment, user=operator).status == "running"


def test_a_changed_prompt_makes_the_rehearsal_stale(
    sim, operator, django_capture_on_commit_callbacks
):
    experiment = gated(operator, ALSO_GOOD)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    b = experiment.variants.get(key="b")
    variant_update(variant=b, name=b.name, body=ALSO_GOOD + " Smile.", user=operator)
    assert "changed since its last rehearsal" in refused(experiment, operator)


def test_a_config_override_makes_the_rehearsal_stale(
    sim, operator, django_capture_on_commit_callbacks
):
    experiment = gated(operator, ALSO_GOOD)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    b = experiment.variants.get(key="b")
    variant_update(
        variant=b, name=b.name, body=ALSO_GOOD, config_overrides={"temperature": 0.9}, user=operator
    )
    assert [r.state for r in variant_rehearsals(experiment)] == ["stale"]
    assert "changed since" in refused(experiment, operator)


def test_the_agents_margin_decides(sim, operator, django_capture_on_commit_callbacks):
    """Ten scenarios; the forgetful variant fails only the one with a forbidden phrase, so the
    lower end sits between -50 and -5 points: the agent's margin decides the state."""
    sim.judge_needs = "booked"  # every transcript: judge checks pass on both arms
    experiment = gated(operator, FORGETFUL, dates=())
    agent = experiment.agent
    polite = [{"kind": "judge", "criterion": "The agent was polite."}]
    for i in range(10):
        checks = [{"kind": "forbidden", "text": "next free slot"}] if i == 0 else polite
        data = {"name": f"S{i}", "persona": "A patient.", "goal": "Book.", "checks": checks}
        scenario_create(agent=agent, data=data, user=operator)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    ci = sps.ttest_rel([0.0] * 10, [1.0] + [0.0] * 9).confidence_interval(0.95)
    assert -0.5 < ci.low < -0.05  # independent: scipy on the same per-scenario shares
    assert [r.state for r in variant_rehearsals(experiment)] == ["failed"]  # default 5 points
    rehearsal_margin_set(agent=agent, margin=0.5, user=operator)
    experiment.refresh_from_db()
    assert [r.state for r in variant_rehearsals(experiment)] == ["passed"]
    entry = AuditEntry.objects.get(action="agent.rehearsal_margin")
    assert (entry.before, entry.after) == ({"margin": 0.05}, {"margin": 0.5})


def test_agents_without_scenarios_start_as_before(experiment, operator):
    assert variant_rehearsals(experiment) == []
    assert experiment_start(experiment=experiment, user=operator).status == "running"


@pytest.mark.parametrize("margin", [float("nan"), float("inf"), -0.01, 0.51, 1e308, True, "0.1"])
def test_a_bad_margin_is_refused_and_nothing_changes(agent, operator, margin):
    with pytest.raises(ValidationError, match=r"share from 0 to 0\.5"):
        rehearsal_margin_set(agent=agent, margin=margin, user=operator)
    agent.refresh_from_db()
    assert agent.rehearsal_margin == 0.05
    assert not AuditEntry.objects.filter(action="agent.rehearsal_margin").exists()


def test_a_manager_overrides_with_a_reason_and_it_is_audited(sim, operator, manager):
    experiment = gated(operator, FORGETFUL)
    refused(experiment, operator)
    override = experiment_gate_override(
        experiment=experiment, user=manager, reason="  Legal asked for this wording.  "
    )
    entry = AuditEntry.objects.get(action="experiment.gate_override")
    assert entry.actor == manager and entry.reason == "Legal asked for this wording."
    assert entry.before == {"gate": [{"variant": "b", "state": "missing", "evaluation": None}]}
    assert override.gate_state == entry.before["gate"]
    assert experiment_start(experiment=experiment, user=operator).status == "running"


def test_an_override_holds_only_for_the_prompts_it_was_given_for(sim, operator, manager):
    experiment = gated(operator, FORGETFUL)
    experiment_gate_override(experiment=experiment, user=manager, reason="Known good.")
    b = experiment.variants.get(key="b")
    variant_update(variant=b, name=b.name, body=FORGETFUL + " Even quicker.", user=operator)
    assert "has not been rehearsed" in refused(experiment, operator)


@pytest.mark.parametrize(
    ("who", "reason", "said"),
    [
        ("operator", "I am sure.", "Only a manager"),
        ("manager", "   ", "Write why"),
        ("manager", None, "Write why"),
        ("manager", "bad\x00reason", "NUL"),
        ("manager", "x" * 2001, "the limit is 2,000"),
        ("manager", "\ud800", "lone surrogate"),
    ],
)
def test_an_override_is_refused_without_a_manager_or_a_reason(
    sim, operator, manager, who, reason, said
):
    experiment = gated(operator, FORGETFUL)
    user = {"operator": operator, "manager": manager}[who]
    with pytest.raises(ValidationError) as error:
        experiment_gate_override(experiment=experiment, user=user, reason=reason)
    assert said in " ".join(error.value.messages)
    assert not GateOverride.objects.exists()
    assert not AuditEntry.objects.filter(action="experiment.gate_override").exists()
    refused(experiment, operator)


def test_an_api_key_cannot_override(sim, operator):
    experiment = gated(operator, FORGETFUL)
    with pytest.raises(ValidationError, match="Only a manager"):
        experiment_gate_override(experiment=experiment, user="key ci", reason="Because.")


def test_nothing_to_override_when_the_gate_passes(
    sim, operator, manager, django_capture_on_commit_callbacks
):
    experiment = gated(operator, ALSO_GOOD)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    with pytest.raises(ValidationError, match="Nothing to override"):
        experiment_gate_override(experiment=experiment, user=manager, reason="Why not.")


def test_the_api_start_returns_the_refusal_as_400(sim, operator, api, admin_key):
    experiment = gated(operator, FORGETFUL)
    response = api.post(f"/api/v1/experiments/{experiment.pk}/start", key=admin_key)
    assert response.status_code == 400
    assert "Variant B has not been rehearsed" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == "draft"
