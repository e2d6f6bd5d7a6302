"""The judge on the experiment page and the call page."""

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.judging.models import Criterion, HumanVerdict, Judgement
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.judging.services import criterion_current
from tests.judging.helpers import add_call, custom_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(agent, operator, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://127.0.0.1:9/v1", "llama3"
    return custom_experiment(agent=agent, user=operator)


def test_panel_shows_the_criterion_and_the_calibration(client, viewer, judged):
    client.force_login(viewer)
    page = client.get(reverse("judging:experiment", args=[judged.pk])).text
    assert "Criterion v1:</strong> The agent learns the caller&#x27;s budget" in page
    assert "Change the criterion" not in page  # viewers only read


def test_panel_says_what_to_configure_without_a_judge(client, operator, judged, settings):
    settings.JUDGE_BASE_URL = ""
    client.force_login(operator)
    page = client.get(reverse("judging:experiment", args=[judged.pk])).text
    assert "Set <code>JUDGE_BASE_URL</code>" in page


def test_panel_warns_when_the_judge_is_of_the_agents_family(client, operator, judged, settings):
    settings.JUDGE_MODEL = "gpt-4o"  # the agent runs gpt-4o-mini
    client.force_login(operator)
    page = client.get(reverse("judging:experiment", args=[judged.pk])).text
    assert "same family" in page


def test_a_paused_judge_is_shown_and_resumed(client, operator, judged):
    Experiment.objects.filter(pk=judged.pk).update(judging_paused_reason="The key was refused.")
    client.force_login(operator)
    page = client.get(reverse("judging:experiment", args=[judged.pk])).text
    assert "Judging is paused." in page and "The key was refused." in page
    client.post(reverse("judging:resume", args=[judged.pk]))
    judged.refresh_from_db()
    assert judged.judging_paused_reason == ""


def test_operators_change_the_criterion_from_the_page(client, operator, viewer, judged):
    client.force_login(viewer)
    assert (
        client.post(
            reverse("judging:criterion", args=[judged.pk]), {"criterion": "New words"}
        ).status_code
        == 403
    )
    client.force_login(operator)
    client.post(reverse("judging:criterion", args=[judged.pk]), {"criterion": "New words"})
    assert Criterion.objects.filter(experiment=judged).order_by("-version").first().text == (
        "New words"
    )


def test_call_panel_shows_the_verdict_and_takes_a_managers_own(client, manager, operator, judged):
    call = add_call(judged)
    Judgement.objects.create(
        call=call,
        criterion=criterion_current(experiment=judged),
        model="llama3",
        prompt_version=JUDGE_PROMPT_VERSION,
        verdict="pass",
        reasoning="Asked the budget politely.",
    )
    client.force_login(manager)
    panel = client.get(reverse("judging:call", args=[call.pk])).text
    assert "Asked the budget politely." in panel and "Your verdict" in panel
    client.post(reverse("judging:human-verdict", args=[call.pk]), {"verdict": "fail"})
    assert HumanVerdict.objects.get(call=call).verdict == "fail"
    client.force_login(operator)
    assert "Your verdict" not in client.get(reverse("judging:call", args=[call.pk])).text
    assert (
        client.post(
            reverse("judging:human-verdict", args=[call.pk]), {"verdict": "pass"}
        ).status_code
        == 403
    )
