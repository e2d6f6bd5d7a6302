"""The verdict card and the scorecard of the results panel (apps/results/card.py)."""

import html as entities
import re

import pytest
from django.urls import reverse

from apps.agents.services import agent_prompt_update, prompt_rollback
from apps.experiments.services import experiment_start, experiment_stop, winner_apply
from apps.results.scorecard import scorecard
from apps.results.services import results_compute
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def card_of(client, experiment) -> str:
    """The verdict card's text, as a person reads it."""
    html = client.get(reverse("results:panel", args=[experiment.pk])).text
    card = re.search(r'<section class="verdict decision-card.*?</section>', html, re.S).group(0)
    return entities.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip())


def panel_of(client, experiment) -> str:
    html = client.get(reverse("results:panel", args=[experiment.pk])).text
    return re.sub(r"<script.*?</script>", "", html, flags=re.S)


@pytest.fixture
def winning(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=6000)
    results_compute(experiment=experiment)
    return experiment


@pytest.fixture
def not_yet(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.24}, per_variant=300)
    results_compute(experiment=experiment)
    return experiment


def test_a_winner_says_why_and_offers_each_role_its_own_next_step(
    client, winning, viewer, operator, manager
):
    client.force_login(operator)
    card = card_of(client, winning)
    assert card.startswith("Winner found")
    assert "Variant B converts 20 percentage points better" in card
    assert "Why: Variant B's always-valid range is clear of “no change”" in card
    assert "every guardrail is shown to be no worse than its limit" in card
    assert "Ask a manager to apply Variant B" in card
    client.force_login(manager)
    card = card_of(client, winning)
    assert "Stop the test to freeze the results; then apply Variant B from here." in card
    assert "Stop the test" in card and "Ask a manager" not in card
    client.force_login(viewer)
    card = card_of(client, winning)
    assert "A manager can apply Variant B." in card
    html = client.get(reverse("results:panel", args=[winning.pk])).text
    section = html.split('id="decision-card"')[1].split("</section>")[0]
    assert "<button" not in section and "<a " not in section  # viewers get no button


def test_not_yet_says_the_range_includes_no_change_and_how_many_more_callers(
    client, not_yet, operator
):
    client.force_login(operator)
    card = card_of(client, not_yet)
    assert card.startswith("No clear difference yet")
    assert "but the always-valid range still includes no change" in card
    assert re.search(r"about [\d,]+ more callers per variant are needed", card)
    assert "more calls per version" not in panel_of(client, not_yet)  # one unit everywhere
    assert "Ask a manager" not in card and "Apply" not in card  # nothing to apply yet
    assert "Keep the test running" in card


def test_the_numbers_in_the_card_are_the_snapshots(client, not_yet, operator):
    client.force_login(operator)
    data = not_yet.snapshots.get().data
    b = next(v for v in data["variants"] if v["key"] == "b")
    need = b["verdict"]["calls_still_needed"]
    card = card_of(client, not_yet)
    assert f"about {need:,} more callers per variant" in card
    plan = data["plan"]
    planned = f"{plan['fewest_calls']:,} of {plan['calls_per_variant']:,} planned callers"
    assert planned in panel_of(client, not_yet)


def test_stopped_speaks_in_the_past_and_says_what_is_live(client, winning, operator, manager):
    experiment_stop(experiment=winning, user=operator)
    results_compute(experiment=winning, frozen=True)
    winning.refresh_from_db()
    client.force_login(manager)
    card = card_of(client, winning)
    assert card.startswith("The verdict when the test stopped:")
    assert "Live now: every call gets" in card and "as before the test" in card
    assert "Keep the test running" not in card and "to go at the current volume" not in card
    html = client.get(reverse("results:panel", args=[winning.pk])).text
    assert f"/experiments/{winning.pk}/apply/?variant=b" in html
    assert "?variant=control" not in html  # never the control

    agent_prompt_update(agent=winning.agent, body="A new prompt.", user=operator)
    card = card_of(client, winning)
    assert "Live now: every call gets" in card and "(v3): it changed after the test." in card


def test_after_apply_and_after_rollback_the_card_says_what_is_live(
    client, winning, operator, manager
):
    experiment_stop(experiment=winning, user=operator)
    results_compute(experiment=winning, frozen=True)
    winner_apply(experiment=winning, variant_key="b", user=manager, reason="Clear winner")
    winning.refresh_from_db()
    agent = winning.agent
    agent.refresh_from_db()
    client.force_login(operator)
    card = card_of(client, winning)
    assert f"Live now: Variant B's prompt (v2) is {agent.name}'s prompt." in card
    assert "Safe to apply" not in card and "Ask a manager" not in card

    prompt_rollback(agent=agent, version=agent.versions.get(number=1), user=operator, reason="x")
    card = card_of(client, winning)
    assert f"Live now: {agent.name}'s prompt was rolled back to the control's prompt" in card
    assert "is now" not in card and f"is {agent.name}'s prompt" not in card


def test_the_scorecard_has_the_goal_then_each_guardrail(winning):
    snapshot = winning.snapshots.get()
    data = snapshot.data
    rows = scorecard(winning, snapshot.result)
    assert [r["kind"] for r in rows] == ["goal", "guardrail"]
    goal, transfer = rows
    assert goal["label"] == "Conversion rate" and goal["threshold"] is None
    b = goal["variants"][0]
    lift = next(v for v in data["variants"] if v["key"] == "b")["lift"]
    assert (b["low"], b["high"]) == (lift["ci_low"], lift["ci_high"]) and b["state"] == "better"
    assert 50 < b["bar"]["x"] < b["bar"]["x"] + b["bar"]["width"] <= 100  # right of zero
    assert transfer["metric"] == "transfer_rate" and transfer["direction"] == "lower"
    assert transfer["threshold"] == pytest.approx(0.03)  # the limit, on the worse side
    assert transfer["limit_at"] > 50
    assert transfer["variants"][0]["state"] in ("safe", "not_yet")


def test_the_scorecard_says_better_worse_and_not_yet_in_words(client, not_yet, operator):
    client.force_login(operator)
    panel = panel_of(client, not_yet)
    assert "Scorecard" in panel and 'class="score-row goal"' in panel
    assert ">Not yet<" in panel and "range" in panel
    assert "Not yet shown to be no worse" in panel  # the transfer-rate guardrail


def test_a_worse_guardrail_is_said_once_with_its_change(client, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(
        experiment,
        {"control": 0.2, "b": 0.2},
        per_variant=1500,
        transferred={"control": 0.05, "b": 0.30},
    )
    results_compute(experiment=experiment)
    client.force_login(operator)
    card = card_of(client, experiment)
    assert card.startswith("A guardrail got worse")
    assert "Variant B's transfer rate is" in card and "applying it is blocked" in card
    assert "Ask a manager" not in card and "Stop the test and keep the current prompt" in card
    panel = panel_of(client, experiment)
    assert panel.count("significantly worse") == 1  # the card, not a second banner


def test_the_charts_come_from_the_calls(client, winning, operator):
    client.force_login(operator)
    html = client.get(reverse("results:panel", args=[winning.pk])).text
    assert 'id="series-data"' in html and 'data-chart="lift"' in html
    assert 'data-chart="timeline"' in html and "By call date" in html


def test_a_winner_whose_guardrail_was_not_shown_safe_needs_a_reason_to_apply(
    client, experiment, operator, manager
):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=1500)
    experiment_stop(experiment=experiment, user=operator)
    results_compute(experiment=experiment, frozen=True)
    experiment.refresh_from_db()
    client.force_login(manager)
    card = card_of(client, experiment)
    assert card.startswith("The verdict when the test stopped: Better, but wait for the guardrails")
    assert "Why: Variant B's conversion rate range was clear of “no change”" in card
    assert "but its transfer rate was not yet shown to be no worse than its limit." in card
    assert "Apply Variant B to" in card and "You write why" in card
    client.force_login(operator)
    assert "Ask a manager to apply Variant B" in card_of(client, experiment)


def test_a_per_call_experiment_counts_calls_in_every_sentence(client, agent, operator):
    from tests.factories import make_experiment

    experiment = make_experiment(agent=agent, user=operator, unit="call", name="Per call")
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.24}, per_variant=300)
    results_compute(experiment=experiment)
    client.force_login(operator)
    card = card_of(client, experiment)
    assert re.search(r"about [\d,]+ more calls per variant are needed", card)
    panel = panel_of(client, experiment)
    # The segment picker may name callers (a call has a caller's country); its sentences may not.
    sentences = re.sub(r"<select.*?</select>", "", panel, flags=re.S)
    assert "planned calls per variant" in panel and "caller" not in sentences.lower()


def test_a_viewer_of_a_losing_test_is_not_told_to_keep_it_running(
    client, experiment, operator, viewer
):
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.4, "b": 0.2}, per_variant=6000)
    results_compute(experiment=experiment)
    client.force_login(viewer)
    card = card_of(client, experiment)
    assert card.startswith("The variants do worse")
    assert "An operator can stop the test; keep the current prompt." in card
    assert "Keep the test running" not in card
    client.force_login(operator)
    assert "Stop the test and keep the current prompt." in card_of(client, experiment)
