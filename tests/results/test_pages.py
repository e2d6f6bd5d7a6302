import re

import pytest
from django.urls import reverse

from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.results.services import results_compute
from tests.factories import CallFactory
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def test_results_panel_shows_verdict_numbers_and_details(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=6000)
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "Winner found" in panel and "Safe to apply" in panel
    assert "6,000" in panel and "percentage points better" in panel
    assert "Fixed-horizon p" in panel and 'data-chart="lift"' in panel
    assert "Shown to be no worse" in panel
    assert "Recompute now" not in panel  # viewers only read


def test_a_winner_with_a_guardrail_not_yet_shown_safe_says_wait(
    client, viewer, experiment, operator
):
    """Issue 11 item 8: main said "Safe to apply" whatever the guardrails' ranges."""
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=1500)
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "Better, but wait for the guardrails" in panel and "Safe to apply" not in panel
    assert "Wait: its transfer rate is not yet shown to be no worse." in panel
    assert "Not yet shown to be no worse" in panel


def test_chance_to_beat_control_is_only_an_explained_detail(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=300)
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk])).text
    before, details = panel.split('<details class="details">')
    assert "Chance to beat control" not in before
    assert "Chance to beat control" in details and "It is not a decision rule" in details


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
    assert "callers per variant" in page and "day" in page  # caller mode counts callers
    assert Call.objects.count() == 60


def test_the_planner_plans_in_calls_in_call_mode_and_more_callers_than_calls(
    client, operator, agent
):
    for i in range(300):  # 60 callers calling 5 times each
        CallFactory(agent=agent, caller=f"caller-{i % 60}", converted=i % 5 == 0)
    client.force_login(operator)
    base = {"agent": agent.slug, "goal_kind": "conversion", "min_lift_percent": "20"}
    per_call = client.get(reverse("results:plan"), {**base, "unit": "call"}).text
    per_caller = client.get(reverse("results:plan"), {**base, "unit": "caller"}).text
    assert "calls per variant" in per_call and "callers per variant" in per_caller
    assert "different callers a day" in per_caller


def test_the_planner_plans_sentiment_in_points(client, operator, agent):
    """Issue 11 item 6: main planned -0.01 -> +0.03 as a relative lift (15.7M calls)."""
    for i in range(60):
        CallFactory(agent=agent, sentiment=(-0.4, 0.38)[i % 2])
    client.force_login(operator)
    page = client.get(
        reverse("results:plan"),
        {"agent": agent.slug, "goal_kind": "sentiment", "min_effect_points": "0.05"},
    ).text
    assert "to detect a change of 0.05 points in sentiment" in page
    number = int(page.split("About ")[1].split(" ")[0].replace(",", ""))
    assert 1000 < number < 5000


def test_planner_explains_what_it_needs(client, operator):
    client.force_login(operator)
    page = client.get(reverse("results:plan"), {"agent": "", "min_lift_percent": "x"}).text
    assert "Pick an agent, a goal and the smallest lift" in page


def visible(html: str) -> str:
    """What a person reads: the page without its scripts' data (the charts' JSON)."""
    return re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_after_apply_and_rollback_the_page_says_only_what_is_still_true(
    client, viewer, manager, experiment, operator
):
    """Issue 13 item 3: an applied experiment still said "Safe to apply" and "days to go", and
    after a rollback still said the winner "is now" the agent's prompt."""
    from apps.agents.services import prompt_rollback
    from apps.experiments.services import experiment_stop, winner_apply

    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=6000)
    client.force_login(viewer)
    running = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "Safe to apply" in running

    experiment_stop(experiment=experiment, user=operator)
    stopped = client.get(reverse("results:panel", args=[experiment.pk])).text
    assert "to go at the current volume" not in stopped
    winner_apply(experiment=experiment, variant_key="b", user=manager)
    panel = visible(client.get(reverse("results:panel", args=[experiment.pk])).text)
    assert "Winner found" in panel and "Safe to apply" not in panel
    page = client.get(experiment.get_absolute_url()).text
    agent = experiment.agent
    assert f"it is now {agent.name}'s prompt." in page

    agent.refresh_from_db()
    first = agent.versions.get(number=1)
    prompt_rollback(agent=agent, version=first, user=operator, reason="Back to v1")
    page = client.get(experiment.get_absolute_url()).text
    assert "it is now v1" in page and f"it is now {agent.name}'s prompt" not in page


def test_the_apply_page_badge_reads_in_words(client, manager, experiment, operator):
    from apps.experiments.services import experiment_stop

    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=200)
    experiment_stop(experiment=experiment, user=operator)
    results_compute(experiment=experiment, frozen=True)  # what the queued freeze does
    client.force_login(manager)
    page = client.get(reverse("experiments:apply", args=[experiment.pk]) + "?variant=b").text
    badge = re.search(r'<p class="verdict-line"><span class="badge[^>]*>([^<]*)<', page).group(1)
    assert badge in ("Not yet", "Inconclusive", "Wait"), badge


def test_a_stopped_test_is_not_told_to_keep_running(client, viewer, experiment, operator):
    from apps.experiments.services import experiment_stop

    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=1500)
    experiment_stop(experiment=experiment, user=operator)
    results_compute(experiment=experiment, frozen=True)
    client.force_login(viewer)
    panel = visible(client.get(reverse("results:panel", args=[experiment.pk])).text)
    assert "Better, but wait for the guardrails" in panel
    assert "Keep the test running" not in panel and "more calls per version" not in panel
    assert "The test stopped before that was shown: applying needs a written reason." in panel
