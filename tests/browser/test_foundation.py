"""A person logs in, finds an agent, reads its prompt history and rolls back."""

import pytest
from playwright.sync_api import expect

from apps.agents.services import agent_prompt_update
from tests.factories import PASSWORD, make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/agents/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/agents/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_operator_reads_history_and_rolls_back(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt="Greet the caller.", user=operator)
    agent_prompt_update(
        agent=agent, body="Greet the caller by name.", user=operator, note="Use the name"
    )
    make_experiment(agent=agent, user=operator)

    log_in(page, live_server, "olivia")
    expect(page.get_by_role("heading", name="Agents")).to_be_visible()
    screenshot("agents-list")

    page.get_by_role("link", name="Front desk").click()
    expect(page.locator("pre.prompt").first).to_have_text("Greet the caller by name.")
    expect(page.locator("#v1")).to_contain_text("First version")
    screenshot("agent-page")

    page.locator("#v1 summary").click()
    page.locator("#v1").get_by_label("Why roll back?").fill("Names were mispronounced")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Make v1 current").click()
    expect(page.get_by_role("status")).to_contain_text("Front desk now uses v1")
    expect(page.locator("pre.prompt").first).to_have_text("Greet the caller.")

    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("table")).to_contain_text("Names were mispronounced")
    screenshot("audit-log")


def test_viewer_sees_no_rollback(page, live_server):
    operator = make_user("olivia", role="operator")
    make_user("victor", role="viewer")
    agent = make_agent(name="Front desk", prompt="Greet the caller.", user=operator)
    agent_prompt_update(agent=agent, body="Greet the caller by name.", user=operator)

    log_in(page, live_server, "victor")
    page.get_by_role("link", name="Front desk").click()
    page.locator("#v1 summary").click()
    expect(page.locator("#v1 pre.prompt")).to_have_text("Greet the caller.")
    expect(page.get_by_role("button", name="Make v1 current")).to_have_count(0)
