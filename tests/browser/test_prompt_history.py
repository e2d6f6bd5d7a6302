"""The prompt history in Chromium: which versions were live and who made them live, and the
default diff from the version live before, readable on a phone (390 px) as on a desktop."""

import pytest
from playwright.sync_api import expect

from apps.experiments.services import experiment_start, experiment_stop, winner_apply
from tests.browser.helpers import log_in
from tests.factories import make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_the_history_marks_live_versions_at_both_widths(page, live_server, screenshot, width):
    operator, manager = make_user("olivia", role="operator"), make_user("mona", role="manager")
    agent = make_agent(name="Front desk", user=operator)
    experiment = make_experiment(agent=agent, user=operator, weights=(33, 33, 34))
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    winner_apply(experiment=experiment, variant_key="c", user=manager, reason="Reads better")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "olivia", agent.get_absolute_url())

    expect(page.locator("#diff")).to_contain_text("Going from v1 to v3")
    live_now = page.locator("#v3")
    expect(live_now).to_contain_text("Live now")
    expect(live_now).to_contain_text("mona applied it as the winner of “Warmer greeting”")
    expect(page.locator("#v2")).to_contain_text("Never live")
    expect(page.locator("#v1")).to_contain_text("olivia created the agent with it")
    page.locator("#history").scroll_into_view_if_needed()
    screenshot(f"prompt-history-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    read = page.locator("#v1").get_by_text("Read")
    box = read.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width  # not scrolled away
