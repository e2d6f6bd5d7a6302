"""Rehearsal vs production: managers' live verdicts beside the simulated judge verdicts of
the same criterion, counted by hand from the stored rows."""

import pytest
from django.urls import reverse

from apps.judging.services import human_verdict_set
from apps.rehearsals.calibration import rehearsal_agreement
from apps.rehearsals.models import Conversation
from apps.rehearsals.services import scenario_create
from tests.factories import make_user
from tests.judging.helpers import add_call, custom_experiment
from tests.rehearsals.helpers import FORGETFUL, dental_agent, evaluate

pytestmark = pytest.mark.django_db

CRITERION = "The agent asked which date the caller wants."  # the helpers' judge check


def test_live_and_simulated_pass_rates_match_a_hand_count(
    sim, operator, manager, client, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    sim.judge_needs = "march 3"  # only the control says March 3, in one scenario
    data = {
        "name": "Other",
        "persona": "P.",
        "goal": "G.",
        "checks": [{"kind": "judge", "criterion": "Something else entirely."}],
    }
    scenario_create(agent=agent, data=data, user=operator)  # a criterion that must not count
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    experiment = custom_experiment(agent=agent, user=operator, criteria=CRITERION)
    other = make_user("otto", role="manager")
    for verdicts in (["pass", "pass"], ["fail", "pass"], ["fail"]):
        call = add_call(experiment)
        for reviewer, verdict in zip((manager, other), verdicts, strict=False):
            human_verdict_set(call=call, reviewer=reviewer, verdict=verdict)
    agreement = rehearsal_agreement(experiment=experiment)
    judged = [
        o["outcome"]
        for c in Conversation.objects.filter(evaluation=evaluation)
        for o in c.outcomes
        if o["label"] == f"judge: {CRITERION}"
    ]
    assert judged and agreement.simulated_judged == len(judged) == 18  # 3 scenarios x 3 x 2
    assert agreement.simulated_passed == judged.count("pass") == 3
    assert (agreement.live_passed, agreement.live_judged) == (3, 5)
    assert agreement.gap_points == pytest.approx((3 / 18 - 3 / 5) * 100)
    client.force_login(manager)
    html = client.get(reverse("gate:agreement", args=[experiment.pk])).content.decode()
    assert "managers passed 3 of 5 live calls (60%)" in html
    assert "the judge passed 3 of 18 simulated calls (17%)" in html
    assert "Rehearsal reads 43 points lower than production." in html


def test_no_criterion_no_agreement(operator, experiment):
    assert rehearsal_agreement(experiment=experiment) is None


def test_no_simulated_verdicts_says_how_to_get_them(operator, manager, client, agent):
    experiment = custom_experiment(agent=agent, user=operator, criteria=CRITERION)
    client.force_login(manager)
    html = client.get(reverse("gate:agreement", args=[experiment.pk])).content.decode()
    assert "no live calls yet" in html and "add a judge check with this criterion" in html
