"""A manager filters an experiment's calls and reads one conversation, in a real Chromium."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.calls.models import Call
from tests.browser.helpers import log_in
from tests.factories import CallFactory, make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONVERSATION = [
    ("agent", "Harbor Dental, this is Robin. How can I help?", 0),
    ("caller", "Hi, I'd like to book a cleaning for next week.", 4.2),
    ("agent", "Of course. Tuesday at 10 or Thursday at 3?", 9.8),
    ("caller", "Tuesday at 10, please.", 42.5),
    ("agent", "Booked: Tuesday at 10. Thank you for calling!", 47.0),
]


def make_calls(experiment):
    control, b = experiment.variants.all()
    now = timezone.now()
    transcript = [{"speaker": s, "text": t, "start_seconds": at} for s, t, at in CONVERSATION]
    Call.objects.bulk_create(
        CallFactory.build(
            agent=experiment.agent,
            experiment=experiment,
            variant=[control, b][i % 2],
            caller=f"+1555010{i:02d}",
            started_at=now - timedelta(minutes=7 * i),
            duration_seconds=40 + 13 * i,
            converted=i % 3 == 0,
            transferred=i % 5 == 0,
            sentiment=round((i % 9) / 4 - 1, 2),
            transcript=transcript,
            fields={"booked_slot": "Tue 10:00"} if i % 3 == 0 else {},
        )
        for i in range(24)
    )


def test_manager_filters_the_calls_and_reads_a_conversation(page, live_server, screenshot):
    manager = make_user("mona", role="manager")
    agent = make_agent(name="Front desk", prompt="Greet the caller.", user=manager)
    experiment = make_experiment(agent=agent, user=manager)
    make_calls(experiment)
    log_in(page, live_server, "mona")

    page.goto(f"{live_server.url}/calls/experiments/{experiment.pk}/")
    rows = page.locator("table.calls tbody tr")
    expect(rows).to_have_count(24)
    page.get_by_label("Converted").select_option("yes")  # htmx swaps the table
    expect(rows).to_have_count(8)
    expect(page).to_have_url(re.compile(r"/calls/experiments/\d+/\?.*converted=yes"))
    expect(rows.locator("td:nth-child(5)")).to_have_text(["✓ Yes"] * 8)  # Converted
    screenshot("calls-list")

    page.get_by_role("link", name="Duration").click()  # longest first, filter kept
    expect(page.locator("th", has_text="Duration")).to_have_attribute("aria-sort", "descending")
    expect(rows.first).to_contain_text("5m 13s")
    expect(rows).to_have_count(8)
    rows.nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Call from +155501018")).to_be_visible()
    turns = page.locator(".transcript .turn")
    expect(turns).to_have_count(5)
    expect(turns.nth(0)).to_have_class("turn agent")
    expect(turns.nth(1)).to_have_class("turn caller")
    expect(turns.nth(3)).to_contain_text("Tuesday at 10, please.")
    expect(turns.nth(3)).to_contain_text("0:42")
    expect(page.get_by_role("link", name="Read prompt")).to_be_visible()
    screenshot("call-page")


def test_script_in_a_transcript_is_shown_and_never_run(page, live_server, screenshot):
    make_user("victor", role="viewer")
    agent = make_agent(name="Front desk")
    payload = "<script>alert(1)</script>"
    call = CallFactory(
        agent=agent,
        caller=f"{payload}<img src=x onerror=alert(2)>",
        transcript=[{"speaker": "caller", "text": f"Hello {payload}", "start_seconds": 1}],
        fields={payload: f"<b onmouseover=alert(3)>{payload}</b>"},
    )
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server, "victor")

    page.goto(f"{live_server.url}/calls/{call.pk}/")
    expect(page.locator(".transcript")).to_contain_text(f"Hello {payload}")
    expect(page.locator("h1")).to_contain_text(payload)
    expect(page.locator("table.fields")).to_contain_text(f"<b onmouseover=alert(3)>{payload}</b>")
    page.locator("table.fields td").hover()
    screenshot("call-page-html-as-text")
    page.goto(f"{live_server.url}/calls/agents/{agent.slug}/")
    expect(page.locator("table.calls")).to_contain_text(payload)
    page.wait_for_timeout(300)  # a dialog would open asynchronously
    assert dialogs == []
    assert "<script>alert" not in page.content()
