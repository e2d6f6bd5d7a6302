"""The gate in a real Chromium: an operator rehearses a variant that forgets to ask for the
date, is refused Start with the reason in words, and a manager overrides with a written
reason, after which the experiment starts (live server, scripted SimServer, tasks in-process)."""

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.rehearsals.models import Evaluation, GateOverride
from tests.browser.helpers import log_in
from tests.browser.test_rehearsals import sim  # noqa: F401  (the scripted endpoint)
from tests.factories import make_user
from tests.rehearsals.helpers import FORGETFUL
from tests.rehearsals.test_gate import gated

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_rehearsal_blocks_start_until_a_manager_overrides(
    page,
    live_server,
    screenshot,
    sim,  # noqa: F811
):
    operator = make_user("olivia", role="operator")
    make_user("maria", role="manager")
    experiment = gated(operator, FORGETFUL)
    log_in(page, live_server, "olivia", path=experiment.get_absolute_url())

    # Rehearse variant B from the experiment page: the run fails the gate.
    page.get_by_role("button", name="Rehearse").first.click()
    page.goto(live_server.url + experiment.get_absolute_url())
    expect(page.locator("#rehearsals")).to_contain_text(
        "Variant B's rehearsal failed", timeout=30_000
    )
    assert Evaluation.objects.get(experiment=experiment).gate == "failed"

    # Start (confirmed in the browser's dialog) is refused, with the reason and what to do,
    # and nothing starts.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Start experiment").click()
    refusal = page.get_by_role("status").filter(has_text="rehearsal failed")
    expect(refusal.first).to_contain_text("ask a manager to override")
    screenshot("gate-1-start-refused")
    assert Experiment.objects.get(pk=experiment.pk).status == "draft"
    expect(page.get_by_role("button", name="Override the gate")).to_have_count(0)

    # A manager overrides with a written reason; the audit log keeps it; Start then works.
    page.context.clear_cookies()
    log_in(page, live_server, "maria", path=experiment.get_absolute_url())
    page.locator("textarea#gate-reason").fill("The clinic asked for it before the holidays.")
    page.get_by_role("button", name="Override the gate").click()
    expect(page.get_by_text("The clinic asked for it before the holidays.").first).to_be_visible()
    screenshot("gate-2-overridden")
    override = GateOverride.objects.get()
    assert override.reason == "The clinic asked for it before the holidays."
    assert AuditEntry.objects.filter(action="experiment.gate_override").count() == 1
    page.get_by_role("button", name="Start experiment").click()
    expect(page.get_by_text("Running").first).to_be_visible()
    assert Experiment.objects.get(pk=experiment.pk).status == "running"
