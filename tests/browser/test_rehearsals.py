"""An operator makes a scenario from a real call, rehearses a prompt that forgets to ask for
the date, and reads the two prompts side by side — in a real Chromium, against a live server
and the scripted OpenAI-compatible SimServer (tasks run in-process once the request commits)."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from apps.agents.services import prompt_version_create
from apps.rehearsals.models import Evaluation, Scenario
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import log_in
from tests.factories import CallFactory, make_user
from tests.rehearsals.helpers import DATES, FORGETFUL, dental_agent
from tests.rehearsals.sim_server import SimServer, point_settings_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How much wider than the screen the page is (0 = fits), and what sticks out.
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def sim(settings):
    with SimServer() as server:
        point_settings_at(settings, server, timeout=5.0)  # a live server is slower to answer
        yield server


def _call(agent):
    said = [
        ("agent", "Smile Dental, how can I help?"),
        ("caller", "Hi, I would like to book a cleaning."),
        ("agent", "Of course. Which date would you like?"),
        ("caller", "March 3, please."),
        ("agent", "You are booked for March 3. Goodbye."),
        ("caller", "Thanks, bye."),
    ]
    return CallFactory(
        agent=agent,
        call_id="call-8812",
        transcript=[{"speaker": s, "text": t} for s, t in said],
    )


def test_operator_rehearses_a_prompt_from_a_real_call(page, live_server, screenshot, sim):
    operator = make_user("olivia", role="operator")
    agent = dental_agent(operator, dates=DATES[:2])
    with transaction.atomic():  # the service expects its caller's transaction
        forgetful = prompt_version_create(agent=agent, body=FORGETFUL, user=operator)
    call = _call(agent)
    log_in(page, live_server, "olivia", path=f"/calls/{call.pk}/")

    # One click on the call page: its caller turns become a replay scenario.
    page.get_by_role("button", name="Make a scenario from this call").click()
    expect(page.get_by_role("status").first).to_contain_text("its 3 caller turns are played")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Replay of call call-8812")
    page.get_by_label("Check 1 kind").select_option("forbidden")
    page.get_by_label("Check 1 text").fill("next free slot")
    page.get_by_role("button", name="Add a check").click()
    page.get_by_label("Check 2 kind").select_option("fact")
    page.get_by_label("Check 2 text").fill("March 3")
    screenshot("rehearsal-1-scenario-from-call")
    page.get_by_role("button", name="Save scenario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Rehearsals of {agent.name}")
    expect(page.locator(".rh-scenario")).to_have_count(3)
    replay = Scenario.objects.get(source_call=call)
    assert replay.replay_turns == [t["text"] for t in call.transcript if t["speaker"] == "caller"]
    assert replay.checks == [
        {"kind": "forbidden", "text": "next free slot"},
        {"kind": "fact", "value": "March 3"},
    ]

    # Rehearse: the newest prompt against the current one, three plays of each scenario.
    expect(page.get_by_label("New prompt (the variant)")).to_have_value(str(forgetful.number))
    expect(page.get_by_label("Compared with (the control)")).to_have_value(
        str(agent.current_version.number)
    )
    expect(page.get_by_label("Plays of each scenario")).to_have_value("3")
    page.get_by_role("button", name="Rehearse").click()
    expect(page.locator(".rh-gate")).to_contain_text(
        "Failed: the variant may do worse than the control by more than 5 points.",
        timeout=30_000,
    )
    evaluation = Evaluation.objects.get()
    assert evaluation.status == "done" and evaluation.gate == "failed"

    # Side by side: the control passes every play, the variant fails, its turn marked.
    pair = page.locator(".rh-pair", has_text="Replay of call call-8812")
    expect(pair.locator(".rh-side-control .rh-pass")).to_have_count(3)
    expect(pair.locator(".rh-side-variant .rh-fail")).to_have_count(3)
    failing = pair.locator(".rh-side-variant .rh-failing").first
    expect(failing).to_be_visible()  # the first failing play is open
    expect(failing).to_contain_text("fails a check")
    expect(failing).to_contain_text("next free slot")
    expect(pair.locator(".rh-side-control .rh-failing")).to_have_count(0)
    expect(page.locator(".rh-overall")).to_contain_text("100%")

    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(OVERFLOW) <= 0, f"wider than the screen at {width} px"
        screenshot(f"rehearsal-2-evaluation-{width}")
    # At phone size the full page is too tall to read as one picture: the top and one pair.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "rehearsal-2-evaluation-390-top.png"))
    pair.screenshot(path=str(ARTIFACTS / "rehearsal-2-evaluation-390-replay.png"))
    page.goto(f"{live_server.url}/rehearsals/agents/{agent.slug}/scenarios/")
    assert page.evaluate(OVERFLOW) <= 0
    screenshot("rehearsal-3-scenarios-390")
    page.get_by_role("link", name="Edit Replay of call call-8812").click()
    assert page.evaluate(OVERFLOW) <= 0
    screenshot("rehearsal-4-form-390")
