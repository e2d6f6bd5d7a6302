"""What the browser tests share."""

from playwright.sync_api import expect

from tests.factories import PASSWORD


def log_in(page, live_server, username, path="/login/"):
    """Open `path` (any page asks for a login first) and log in as `username`; from the login
    page itself, wait until the agents list is there."""
    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if path == "/login/":
        expect(page.get_by_role("heading", name="Agents")).to_be_visible()
