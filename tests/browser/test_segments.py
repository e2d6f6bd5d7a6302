"""The segment picker in a real Chromium: choosing a segment shows its corrected table, and the
panel's refresh every 10 s keeps the chosen table (hx-preserve) instead of resetting it."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.browser.test_decision_forms import wait_for_refresh
from tests.browser.test_decision_screen import running_for_days
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_picking_a_segment_shows_its_table_and_survives_the_refresh(page, live_server):
    operator = make_user("olivia", role="operator")
    experiment = running_for_days(operator, days=2, per_variant=300)
    log_in(page, live_server, "olivia", experiment.get_absolute_url())
    picker = page.get_by_label("Split the conversion rate by")
    expect(picker).to_be_visible()
    picker.select_option("weekday")
    table = page.locator("#segments table")
    expect(table).to_be_visible()
    expect(page.locator("#segments")).to_contain_text("corrected for")
    expect(page.locator("#segments")).not_to_contain_text("winner")
    page.evaluate(
        """() => {
            window.refreshes = 0;
            window.segmentsBefore = document.querySelector('#segments table');
            document.body.addEventListener('htmx:afterSettle', (event) => {
                if (event.detail.target.id === 'results') window.refreshes += 1;
            });
        }"""
    )
    wait_for_refresh(page)
    assert page.evaluate("document.querySelector('#segments table') === window.segmentsBefore")
    expect(picker).to_have_value("weekday")
