"""The strict Content-Security-Policy breaks nothing: no violation on any page, htmx still works."""

import pytest
from playwright.sync_api import expect

from apps.experiments.services import experiment_start
from tests.browser.helpers import log_in
from tests.factories import make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation, however it shows: the event the page sees, and Chromium's console line
# ("Refused to execute inline script…", "Refused to apply inline style…", "…unsafe-eval…").
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def watched(page):
    console = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if "Content Security Policy" in m.text or m.text.startswith("Refused")
            else None
        ),
    )
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))

    def violations():
        return console + page.evaluate("window.__violations || []")

    return violations


def test_main_pages_run_without_a_csp_violation(page, live_server, watched, screenshot):
    operator = make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt="Greet the caller.", user=operator)
    running = make_experiment(agent=agent, user=operator)
    experiment_start(experiment=running, user=operator)
    log_in(page, live_server, "olivia")
    seen = {}

    page.goto(f"{live_server.url}{agent.get_absolute_url()}")
    # htmx loads the call volume on load; the static script shows the copy buttons.
    expect(page.locator("#volume")).not_to_contain_text("Counting calls", timeout=10_000)
    expect(page.locator("[data-copy=snippet-assign]")).to_be_hidden()  # inside closed details
    page.get_by_role("link", name="connect a router").click()  # agent.js opens the details
    expect(page.locator("[data-copy=snippet-assign]")).to_be_visible()
    seen["agent"] = watched()

    page.goto(f"{live_server.url}{running.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text(running.name)
    screenshot("csp-experiment")
    seen["experiment"] = watched()

    for path in ["/agents/", "/experiments/", "/audit/", "/reviews/", "/api/docs/"]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        seen[path] = watched()
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Switchboard API")
    screenshot("csp-api-docs")
    assert all(v == [] for v in seen.values()), seen


def test_htmx_and_the_moved_scripts_still_work_under_the_policy(page, live_server, watched):
    operator = make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt="Greet the caller.", user=operator)
    draft = make_experiment(agent=agent, user=operator)
    log_in(page, live_server, "olivia")

    # New experiment: the goal switch (static script) and the live plan (htmx hx-get).
    page.goto(f"{live_server.url}/experiments/new/?agent={agent.pk}")
    expect(page.locator("#plan")).to_contain_text("callers per variant", timeout=10_000)
    criterion = page.get_by_label("Criterion for the judge")
    expect(criterion).to_be_hidden()
    page.get_by_role("radio", name="Pass rate (LLM judge)").check()
    expect(criterion).to_be_visible()

    # The traffic split posts through htmx and swaps in the answer.
    page.goto(f"{live_server.url}{draft.get_absolute_url()}")
    page.locator("#w_control").fill("70")
    page.locator("#w_b").fill("30")
    page.get_by_role("button", name="Save split").click()
    expect(page.locator("#traffic")).to_contain_text("Traffic split saved.", timeout=10_000)
    expect(page.locator("#w_control")).to_have_value("70")

    # data-confirm replaces onsubmit="return confirm(…)": dismissing keeps the draft a draft.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Start experiment").click()
    expect(page.locator(".badge")).to_have_text("Draft")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start experiment").click()
    expect(page.locator(".badge").first).to_have_text("Running")
    assert watched() == []


def test_the_lockout_page_renders_under_the_policy(
    page, live_server, watched, settings, screenshot
):
    settings.AXES_FAILURE_LIMIT = 2
    make_user("olivia", role="operator")
    for _ in range(2):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("olivia")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Too many login attempts")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Try again after")
    screenshot("csp-locked-out")
    assert watched() == []
