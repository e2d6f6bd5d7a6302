"""An operator compares prompt versions, finds the router snippet and sees the call volume."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.agents.services import agent_prompt_update
from apps.calls.models import Call
from tests.browser.helpers import log_in
from tests.factories import CallFactory, make_agent, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

V1 = "Greet the caller. Ask how we can help."
V2 = "Greet the caller by name. Ask how we can help."
V3 = "Greet the caller by name. Ask how we can help today.\nOffer the next free slot."


def agent_with_three_versions_and_calls():
    operator = make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt=V1, user=operator)
    agent_prompt_update(agent=agent, body=V2, user=operator, note="Use the name")
    agent_prompt_update(agent=agent, body=V3, user=operator, note="Offer a slot")
    now = timezone.now()
    # A weekly rhythm over four weeks, every third day quiet.
    moments = [
        now - timedelta(days=day, minutes=n)
        for day in range(28)
        if day % 3
        for n in range(20 + (day % 7) * 9)
    ]
    Call.objects.bulk_create(CallFactory.build(agent=agent, started_at=m) for m in moments)
    busy_days = len({timezone.localdate(m) for m in moments})
    return agent, busy_days


def test_operator_compares_versions_and_connects_a_router(page, live_server, screenshot, settings):
    settings.SITE_URL = live_server.url
    agent, busy_days = agent_with_three_versions_and_calls()
    log_in(page, live_server, "olivia", agent.get_absolute_url())

    diff = page.locator("#diff")
    expect(diff).to_contain_text("Going from v2 to v3")
    expect(diff.locator("ins")).to_have_text(["help today.\nOffer the next free slot."])
    page.evaluate("window.samePage = true")  # gone if the browser loads a new page

    page.get_by_label("Compare", exact=True).select_option("v1")
    expect(diff).to_contain_text("Going from v1 to v3")
    expect(diff.locator("del")).to_have_text(["caller.", "help."])
    expect(diff.locator("ins").first).to_have_text("caller by name.")
    assert page.evaluate("window.samePage") is True
    assert page.url.endswith("?a=1&b=3")

    page.get_by_label("with", exact=True).select_option("v2")
    expect(diff).to_contain_text("Going from v1 to v2")
    expect(diff.locator("del")).to_have_text(["caller."])
    assert page.evaluate("window.samePage") is True
    diff.scroll_into_view_if_needed()
    screenshot("agent-page-diff")

    page.goto(f"{page.url.split('?')[0]}?a=7&b=1")
    expect(diff.get_by_role("alert")).to_contain_text("There is no version “7”")

    chart = page.locator("#volume svg")
    expect(chart).to_be_visible()
    expect(page.locator("#volume rect.bar")).to_have_count(busy_days)
    expect(page.locator("#volume")).to_contain_text("calls in the last 30 days")

    page.get_by_text("Connect a router").click()
    python = page.locator("#snippet-python")
    expect(python).to_be_visible()
    expect(python).to_contain_text(f'client.assign("{agent.slug}", caller="+15550100"')
    expect(page.locator("#snippet-assign")).to_contain_text(f"{live_server.url}/api/v1/assignments")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("[data-copy=snippet-assign]").click()
    expect(page.locator("[data-copy=snippet-assign]")).to_have_text("Copied")
    assert f'"agent": "{agent.slug}"' in page.evaluate("navigator.clipboard.readText()")
    screenshot("agent-page-volume")

    page.set_viewport_size({"width": 800, "height": 900})
    screenshot("agent-page-800")


def test_empty_volume_says_to_connect_a_router(page, live_server):
    make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt=V1)
    log_in(page, live_server, "olivia", agent.get_absolute_url())

    expect(page.locator("#volume")).to_contain_text("No calls in the last 30 days yet")
    page.locator("#volume").get_by_role("link", name="connect a router").click()
    expect(page.locator("#snippet-python")).to_be_visible()
