"""A manager reads sampled calls blind, votes on three pairs, reveals, and reads the tally."""

import pytest
from playwright.sync_api import expect

from apps.experiments.services import experiment_start
from apps.reviews.models import PairVote
from tests.browser.helpers import log_in
from tests.factories import make_agent, make_experiment, make_user
from tests.reviews.helpers import add_calls, transcript

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WARM = "Thank you so much for calling Harbor Dental! How can I help you today?"


def calls_for(experiment):
    for i in range(8):
        cold = ["Harbor Dental.", "Hi, I need a cleaning.", "Tuesday at 9:30.", f"Booked ({i})."]
        warm = [WARM, "Hi, I need a cleaning.", "Lovely! Tuesday at 9:30?", f"Booked ({i})."]
        add_calls(experiment, "control", 1, start=i, transcript=transcript(*cold), converted=i < 3)
        add_calls(experiment, "b", 1, start=i, transcript=transcript(*warm), converted=i < 4)


def test_manager_votes_blind_then_reveals_and_reads_the_tally(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    make_user("mona", role="manager")
    agent = make_agent(name="Front desk", user=operator)
    experiment = make_experiment(agent=agent, user=operator)
    experiment_start(experiment=experiment, user=operator)
    calls_for(experiment)

    log_in(page, live_server, "mona", "/reviews/")
    page.get_by_role("link", name="Warmer greeting").click()
    expect(page.get_by_role("heading", name="Read calls side by side")).to_be_visible()
    page.get_by_label("Calls per variant", exact=True).fill("4")
    page.get_by_label("Blind: hide which variant is which").check()
    page.get_by_role("button", name="Show these calls").click()
    expect(page.locator(".blind-banner")).to_contain_text("Blind.")
    expect(page.locator(".pair")).to_have_count(4)
    expect(page.locator(".pairs")).not_to_contain_text("Variant B")
    expect(page.locator(".pairs")).not_to_contain_text("Control")
    screenshot("review-blind")

    # The reviewer prefers the warm greeting, wherever the shuffle put it.
    for index in (1, 2, 3):
        pair = page.locator(f"#pair-{index}")
        warm_on_left = WARM in pair.locator(".rv-side-left").inner_text()
        pair.get_by_label("Note").fill("Warmer opening" if index == 1 else "")
        side = "Left" if warm_on_left else "Right"
        pair.get_by_role("button", name=f"{side} is better").click()
        expect(page.locator(f"#pair-{index} .vote-status")).to_contain_text(
            f"Your vote: the {side.lower()} call"
        )
    expect(page.locator(".pairs")).not_to_contain_text("Variant B")  # one pair to go

    page.get_by_role("button", name="Reveal").click()
    expect(page.locator(".blind-banner")).to_contain_text("Revealed.")
    expect(page.locator("#pair-1 .vote-status")).to_contain_text("Your vote: Variant B better.")
    tally = page.locator("#tally")
    expect(tally).to_contain_text("Reviewers preferred Variant B in 3 of the 3 pairs")
    expect(tally).to_contain_text("95% range 44% to 100%")
    expect(tally.locator("tbody tr").first).to_contain_text("0 of 3")
    expect(tally).to_contain_text("3 votes by 1 reviewer.")
    page.locator("#pair-1").scroll_into_view_if_needed()
    screenshot("review-revealed")

    votes = list(PairVote.objects.select_related("call_b__variant"))
    assert len(votes) == 3 and {v.verdict for v in votes} == {"prefer_b"}
    assert {v.call_b.variant.key for v in votes} == {"b"}
    assert "Warmer opening" in {v.note for v in votes}


def test_manager_tags_calls_in_a_stratified_sample(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    make_user("mona", role="manager")
    experiment = make_experiment(agent=make_agent(name="Front desk", user=operator), user=operator)
    experiment_start(experiment=experiment, user=operator)
    calls_for(experiment)  # 3 converted calls of the control, 4 of B
    long = transcript(*[f"Line {i} <b>not bold</b>" for i in range(40)])
    add_calls(experiment, "b", 1, start=50, transcript=long, converted=True)

    log_in(page, live_server, "mona", f"/reviews/experiments/{experiment.pk}/?n=10&stratified=1")
    expect(page.locator(".messages")).to_contain_text(
        "Only 3 converted calls of Control match; showing 3."
    )
    expect(page.locator(".pair-columns")).to_contain_text("Control")
    first = page.locator("#pair-1")
    first.get_by_label("Tag call A").fill("Rude")
    first.get_by_label("Tag call A").press("Enter")
    expect(first.locator(".rv-side-left .rv-tag")).to_have_text("rude\u00d7")
    first.get_by_label("Tag call B").fill("great save")
    first.get_by_role("button", name="Tag").last.click()
    expect(first.locator(".rv-side-right .rv-tag")).to_contain_text("great save")
    folded = page.get_by_text("Show all 40 turns")
    expect(folded).to_have_count(1)
    folded.click()
    expect(page.get_by_text("Line 39 <b>not bold</b>")).to_be_visible()
    screenshot("review-tags")
    first.get_by_role("button", name="Remove your tag “rude”").click()
    expect(first.locator(".rv-side-left .rv-tag")).to_have_count(0)


def test_enter_in_a_note_saves_no_vote(page, live_server):
    """The first button of the vote form was "Left is better": Enter in the note voted for it."""
    operator = make_user("olivia", role="operator")
    make_user("mona", role="manager")
    experiment = make_experiment(agent=make_agent(name="Front desk", user=operator), user=operator)
    experiment_start(experiment=experiment, user=operator)
    calls_for(experiment)

    log_in(page, live_server, "mona", f"/reviews/experiments/{experiment.pk}/?per_variant=2")
    pair = page.locator("#pair-1")
    pair.get_by_label("Note").fill("Both fine really")
    pair.get_by_label("Note").press("Enter")
    page.wait_for_timeout(500)
    expect(pair.locator(".vote-status")).to_have_count(0)
    assert not PairVote.objects.exists()
    pair.get_by_role("button", name="Both good").click()
    expect(page.locator("#pair-1 .vote-status")).to_contain_text("Your vote: both good")
    assert PairVote.objects.get().note == "Both fine really"
