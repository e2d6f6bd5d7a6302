"""Every page of the site, on the demo data, at 390 px and 1440 px: nothing wider than the
screen (`document.documentElement.scrollWidth`), and a screenshot of each to look at."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.models import Experiment, Status
from apps.results.services import results_compute_or_record
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What stands out of the page when it is too wide, for the failure message.
WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def _pages() -> list[tuple[str, str]]:
    """(name, path) of every page a person reaches, on the demo data."""
    pages = [
        ("agents", "/"),
        ("experiments", "/experiments/"),
        ("new-experiment", "/experiments/new/?agent=front-desk"),
        ("reviews", "/reviews/"),
        ("audit-log", "/audit/"),
        ("not-found", "/no-such-page/"),
    ]
    for agent in Agent.objects.order_by("slug"):
        pages += [
            (f"agent-{agent.slug}", f"/agents/{agent.slug}/"),
            (f"calls-{agent.slug}", f"/calls/agents/{agent.slug}/"),
        ]
    for experiment in Experiment.objects.order_by("pk"):
        name = f"experiment-{experiment.pk}-{experiment.status}"
        pages += [
            (name, f"/experiments/{experiment.pk}/"),
            (f"{name}-calls", f"/calls/experiments/{experiment.pk}/"),
            (f"{name}-review", f"/reviews/experiments/{experiment.pk}/"),
        ]
        if experiment.status == Status.DRAFT:
            pages.append((f"{name}-settings", f"/experiments/{experiment.pk}/edit/"))
        if experiment.status == Status.STOPPED:
            apply = f"/experiments/{experiment.pk}/apply/?variant=b"
            pages += [(f"{name}-apply", apply), (f"{name}-ask", apply.replace("apply", "ask"))]
    call = Call.objects.exclude(transcript=[]).order_by("pk").first()
    pages.append(("call", f"/calls/{call.pk}/"))
    return pages


def test_no_page_is_wider_than_a_phone(page, live_server, screenshot):
    call_command("seed_demo", verbosity=0)
    for experiment in Experiment.objects.exclude(status=Status.DRAFT):
        frozen = experiment.status in (Status.STOPPED, Status.APPLIED)
        results_compute_or_record(experiment=experiment, frozen=frozen)
    make_user("mona", role="manager")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Agents")).to_be_visible()

    too_wide = {}
    pages = _pages()
    assert len(pages) >= 20
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 844})
        for name, path in pages:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == (404 if name == "not-found" else 200), (name, path)
            page.wait_for_load_state("networkidle")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                too_wide[f"{name} at {width}"] = (scroll, page.evaluate(WIDER))
            screenshot(f"every-page-{name}-{width}")
    assert not too_wide, too_wide
