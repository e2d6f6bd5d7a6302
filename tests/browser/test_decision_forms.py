"""Forms that prevent errors and a results panel that respects its reader, in a real Chromium."""

import pytest
from playwright.sync_api import expect

from apps.experiments.models import Experiment, Status
from apps.experiments.services import experiment_start
from apps.results.services import results_refresh_running
from tests.browser.helpers import log_in
from tests.factories import make_agent, make_experiment, make_user
from tests.reviews.helpers import add_calls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROMPT = "You are the front desk of Harbor Dental. Greet {{caller_name}} and book appointments."


WIDER_THAN_SCREEN = """() => {
    const clipped = (el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            if (getComputedStyle(a).overflowX !== 'visible') return true;
        }
        return false;
    };
    return [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > 391 && !clipped(el))
        .slice(0, 6)
        .map((el) => `${el.tagName}.${el.className} ${el.getBoundingClientRect().right}`);
}"""


def assert_fits_a_phone(page):
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, page.evaluate(WIDER_THAN_SCREEN)


def wait_for_refresh(page, seconds=20):
    """Until the panel, polled every 10 s, was swapped once (wait_for_function would evaluate
    a string, which the pages' CSP forbids)."""
    for _ in range(seconds * 4):
        if page.evaluate("window.refreshes") >= 1:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"The results panel did not refresh within {seconds} s.")


def test_the_agent_link_preselects_it_and_start_uses_the_split_on_screen(
    page, live_server, screenshot, settings
):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "", ""
    operator = make_user("olivia", role="operator")
    make_agent(name="Billing", user=operator)  # first in the list: the form's old default
    desk = make_agent(name="Front desk", prompt=PROMPT, user=operator)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    log_in(page, live_server, "olivia", path=f"/agents/{desk.slug}/")

    page.get_by_role("link", name="New experiment on Front desk").click()
    expect(page.get_by_label("Agent")).to_have_value(desk.slug)
    expect(page.locator("#plan")).to_contain_text("Front desk")

    # A custom goal says, while drafting, that it needs a judge; optimize hides for duration.
    page.get_by_role("radio", name="Pass rate (LLM judge)").check()
    expect(page.locator("#limits")).to_contain_text("A custom goal needs an LLM judge")
    page.get_by_role("radio", name="Call duration").check()
    expect(page.locator("#limits")).not_to_contain_text("judge")
    expect(page.get_by_label("Optimize (traffic shifts to the best variant)")).to_be_hidden()
    page.get_by_role("radio", name="Conversion rate").check()
    expect(page.get_by_label("Optimize (traffic shifts to the best variant)")).to_be_visible()
    page.get_by_label("Name").fill("Warmer greeting")
    page.get_by_role("radio", name="Pass rate (LLM judge)").check()
    expect(page.locator("#limits")).to_contain_text("A custom goal needs an LLM judge")
    assert_fits_a_phone(page)
    screenshot("decision-1-new-on-front-desk-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot("decision-1-new-on-front-desk")
    page.get_by_role("radio", name="Conversion rate").check()
    page.get_by_role("button", name="Draft experiment").click()
    expect(page.locator("h1")).to_contain_text("Warmer greeting")
    assert Experiment.objects.get().agent == desk

    # A new variant gets an even share; a changed split that is not saved is used by Start.
    page.get_by_role("button", name="Add variant").click()
    expect(page.get_by_role("status").first).to_contain_text("Control 50%, Variant B 50%")
    page.get_by_role("link", name="Back to the experiment").click()
    expect(page.locator("#w_b")).to_have_value("50")
    page.locator("#w_control").fill("70")
    page.locator("#w_b").fill("30")
    expect(page.locator("[data-unsaved-note]")).to_be_visible()
    screenshot("decision-2-unsaved-split")
    page.get_by_role("button", name="Start experiment").click()
    expect(page.locator("h1 .badge")).to_have_text("Running")
    assert "with the split on screen (Control 70%, Variant B 30%)" in dialogs[-1]
    expect(page.get_by_role("status").first).to_contain_text("The split on screen was saved first")
    experiment = Experiment.objects.get()
    assert experiment.status == Status.RUNNING
    assert dict(experiment.variants.values_list("key", "weight")) == {"control": 70, "b": 30}
    expect(page.locator("#timeline")).to_contain_text("Started it")


def test_a_draft_is_edited_and_a_variant_removed(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    desk = make_agent(name="Front desk", prompt=PROMPT, user=operator)
    draft = make_experiment(agent=desk, user=operator, weights=(34, 33, 33))
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "olivia", path=f"/experiments/{draft.pk}/")

    page.get_by_role("link", name="Edit settings").click()
    expect(page.get_by_label("Name")).to_have_value("Warmer greeting")
    page.get_by_label("Name").fill("Warmest greeting")
    page.get_by_label("Hypothesis").fill("A warmer hello keeps callers on the line.")
    assert_fits_a_phone(page)
    screenshot("decision-7-draft-settings-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("h1")).to_contain_text("Warmest greeting")

    page.locator("tr", has_text="Variant C").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status").first).to_contain_text("Variant C removed")
    expect(page.locator("#w_control")).to_have_value("67")
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot("decision-3-draft-edited")
    assert_fits_a_phone(page)
    screenshot("decision-3-draft-edited-390")


def test_a_refresh_keeps_details_open_and_focus_where_it_was(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    desk = make_agent(name="Front desk", prompt=PROMPT, user=operator)
    running = experiment_start(experiment=make_experiment(agent=desk, user=operator), user=operator)
    add_calls(running, "control", 30, converted=False)
    add_calls(running, "b", 30, converted=True)
    results_refresh_running()
    log_in(page, live_server, "olivia", path=f"/experiments/{running.pk}/")

    summary = page.locator("#results details summary")
    expect(summary).to_be_visible()
    summary.click()  # opens the Details and puts keyboard focus on its summary
    expect(page.locator("#results details")).to_have_attribute("open", "")
    page.evaluate(
        """() => {
            window.refreshes = 0;
            window.summaryBefore = document.querySelector('#results details summary');
            document.body.addEventListener('htmx:afterSettle', (event) => {
                if (event.detail.target.id === 'results') window.refreshes += 1;
            });
        }"""
    )
    wait_for_refresh(page)
    expect(page.locator("#results details")).to_have_attribute("open", "")
    assert page.evaluate("document.activeElement === window.summaryBefore")
    assert page.evaluate("document.activeElement.isConnected")
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot("decision-4-details-kept-open")
    assert_fits_a_phone(page)
    screenshot("decision-4-details-kept-open-390")


def test_error_pages_are_the_sites_at_both_widths(page, live_server, screenshot):
    make_user("victor", role="viewer")
    log_in(page, live_server, "victor")
    for path, heading, name in [
        ("/experiments/999999/", "There is nothing at this address", "decision-5-404"),
        ("/experiments/new/", "Your role cannot do this", "decision-6-403"),
    ]:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        screenshot(name)
        assert_fits_a_phone(page)
        screenshot(f"{name}-390")
