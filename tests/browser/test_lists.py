"""The experiments and agents lists in Chromium: where each experiment stands, readable on a
phone (390 px) as on a desktop (1440 px), and the agents list leading to a running test."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.experiments.models import Experiment, ResultSnapshot
from apps.experiments.services import experiment_start
from tests.browser.helpers import log_in
from tests.factories import make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def running_with_results(operator):
    agent = make_agent(name="Front desk", user=operator)
    experiment = make_experiment(agent=agent, user=operator, name="Warmer greeting")
    experiment_start(experiment=experiment, user=operator)
    Experiment.objects.filter(pk=experiment.pk).update(
        started_at=timezone.now() - timedelta(days=6, hours=2)
    )
    ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        verdict_code="no_difference_yet",
        verdict_sentence="Not yet.",
        data={
            "goal": "conversion",
            "direction": "higher",
            "plan": {"progress": 0.62},
            "best": None,
            "variants": [
                {"key": "control", "name": "Control", "is_control": True, "lift": None},
                {
                    "key": "b",
                    "name": "Warm thanks with the caller's name",
                    "is_control": False,
                    "lift": {"absolute": 0.034},
                    "verdict": {"code": "no_difference_yet"},
                },
            ],
        },
    )
    draft_agent = make_agent(name="Collections for overdue energy bills", user=operator)
    make_experiment(agent=draft_agent, user=operator, name="State the amount in the first line")
    return experiment


def no_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("width", [1440, 390])
def test_the_experiments_list_reads_at_both_widths(page, live_server, screenshot, width):
    operator = make_user("olivia", role="operator")
    experiment = running_with_results(operator)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "olivia", "/experiments/")

    row = page.get_by_role("row").filter(has_text="Warmer greeting")
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text("Day 7")
    expect(row).to_contain_text("62% of plan")
    expect(row).to_contain_text("Warm thanks with the caller's name +3.4 points")
    expect(row.locator(".badge.verdict-no_difference_yet")).to_have_text("Not yet")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "62")
    draft = page.get_by_role("row").filter(has_text="State the amount")
    expect(draft).to_contain_text("Not started")
    screenshot(f"experiments-list-{width}")
    assert no_overflow(page) <= width
    # Every column is on screen, not scrolled away inside the table.
    for cell in (row.get_by_role("progressbar"), row.locator(".badge.verdict-no_difference_yet")):
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width

    row.get_by_role("link", name="Warmer greeting").click()
    expect(page).to_have_url(f"{live_server.url}{experiment.get_absolute_url()}")


@pytest.mark.parametrize("width", [1440, 390])
def test_the_agents_list_links_the_running_experiment(page, live_server, screenshot, width):
    operator = make_user("olivia", role="operator")
    experiment = running_with_results(operator)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "olivia")

    row = page.get_by_role("row").filter(has_text="Front desk")
    expect(row).to_contain_text("Running")
    expect(page.get_by_role("row").filter(has_text="Collections")).to_contain_text("None running")
    screenshot(f"agents-list-{width}")
    assert no_overflow(page) <= width
    box = row.locator(".badge.running").bounding_box()  # the last column, on screen
    assert box["x"] >= 0 and box["x"] + box["width"] <= width

    row.get_by_role("link", name="Warmer greeting").click()
    expect(page).to_have_url(f"{live_server.url}{experiment.get_absolute_url()}")
