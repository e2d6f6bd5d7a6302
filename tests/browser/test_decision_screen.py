"""The decision screen in a real Chromium: the verdict card's next step for each role (an
operator asks, a manager applies from the card), true texts after apply and rollback, the
scorecard and the charts by call date consistent with the results API, a refresh that keeps
an open Details, and a page that fits a 390 px phone."""

import json
import random
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.agents.services import prompt_rollback
from apps.calls.models import Call
from apps.experiments.models import ApplyRequest, Experiment, Status
from apps.experiments.services import experiment_start, experiment_stop
from apps.results.result import Change
from apps.results.scorecard import range_words
from apps.results.services import results_compute
from apps.stats.scales import format_change
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import log_in
from tests.browser.test_decision_forms import assert_fits_a_phone, wait_for_refresh
from tests.factories import make_agent, make_experiment, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROMPT = "You are the front desk of Harbor Dental. Greet {{caller_name}} and book appointments."


# Each chart's canvas has a chart and at least one painted pixel.
PAINTED = """() => [...document.querySelectorAll('canvas[data-chart]')].map((c) => {
    if (!Chart.getChart(c)) return false;
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
    return false;
})"""


def running_for_days(operator, days=3, per_variant=1500, rates=None):
    """An experiment started `days` ago whose calls came in all along (B converts better)."""
    agent = make_agent(name="Front desk", prompt=PROMPT, user=operator)
    experiment = experiment_start(
        experiment=make_experiment(agent=agent, user=operator), user=operator
    )
    start = timezone.now() - timedelta(days=days)
    phases = [{**experiment.phases[0], "started_at": start.isoformat()}]
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start, phases=phases)
    experiment.refresh_from_db()
    rng = random.Random(7)
    calls = []
    for key, rate in (rates or {"control": 0.2, "b": 0.4}).items():
        variant = experiment.variants.get(key=key)
        for i in range(per_variant):
            at = start + timedelta(seconds=rng.uniform(60, days * 86400 - 60))
            calls.append(
                Call(
                    agent=agent,
                    experiment=experiment,
                    variant=variant,
                    call_id=f"{key}-{i}",
                    caller=f"{key}-caller-{i}",
                    started_at=at,
                    converted=rng.random() < rate,
                    duration_seconds=rng.uniform(30, 300),
                    sentiment=rng.uniform(-1, 1),
                    transferred=rng.random() < 0.05,
                    completed=True,
                )
            )
    Call.objects.bulk_create(calls, batch_size=2000)
    return experiment


def stopped_winner(operator):
    experiment = running_for_days(operator)
    experiment_stop(experiment=experiment, user=operator)
    results_compute(experiment=experiment, frozen=True)  # what the queued freeze does
    return Experiment.objects.get(pk=experiment.pk)


def shots(page, screenshot, name):
    page.set_viewport_size({"width": 1440, "height": 900})
    screenshot(name)
    assert_fits_a_phone(page)
    screenshot(f"{name}-390")
    results = page.locator("#results-card")
    if results.count():  # the panel alone, at a size one can read
        results.screenshot(path=str(ARTIFACTS / f"{name}-390-results.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


def card(page):
    return page.locator("#decision-card")


def test_an_operator_asks_and_a_manager_applies_from_the_card(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    make_user("mona", role="manager")
    experiment = stopped_winner(operator)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live_server, "olivia", path=experiment.get_absolute_url())

    expect(card(page)).to_contain_text("The verdict when the test stopped:")
    expect(card(page)).to_contain_text("Live now: every call gets Front desk's current prompt")
    expect(card(page).get_by_role("link", name="Apply…")).to_have_count(0)  # operators ask
    shots(page, screenshot, "decision-card-1-operator-stopped")
    card(page).get_by_role("link", name="Ask a manager to apply Variant B").click()
    expect(page.locator("h1")).to_have_text("Ask a manager to apply Variant B to Front desk")
    page.get_by_label("A note for the manager (optional)").fill("B books 2 in 5 callers.")
    shots(page, screenshot, "decision-card-2-ask")
    page.get_by_role("button", name="Ask a manager to apply Variant B").click()
    expect(page.get_by_role("status").first).to_contain_text("Asked. Managers see your request")
    expect(card(page)).to_contain_text("olivia asked a manager to apply Variant B")
    expect(card(page)).to_contain_text("The request waits for a manager.")
    assert ApplyRequest.objects.get().state == ApplyRequest.PENDING

    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "mona")
    requests = page.get_by_role("region", name="Waiting for a manager")
    expect(requests).to_contain_text("B books 2 in 5 callers.")
    shots(page, screenshot, "decision-card-3-manager-home")
    requests.get_by_role("link", name="Apply Variant B in “Warmer greeting”").click()
    expect(card(page)).to_contain_text("Next step: Apply Variant B to Front desk.")
    card(page).get_by_role("link", name="Apply…").click()
    expect(page.locator("#answer")).to_contain_text("olivia asked")
    shots(page, screenshot, "decision-card-3b-apply-with-request")
    page.get_by_role("button", name="Apply Variant B").click()
    expect(page.get_by_role("status").first).to_contain_text("now uses Variant B's prompt")
    assert ApplyRequest.objects.get().state == ApplyRequest.APPLIED
    expect(page.get_by_role("region", name="Waiting for a manager")).to_have_count(0)

    page.goto(f"{live_server.url}{experiment.get_absolute_url()}")
    expect(card(page)).to_contain_text("Live now: Variant B's prompt (v2) is Front desk's prompt.")
    expect(card(page)).not_to_contain_text("Safe to apply")
    expect(card(page).get_by_role("link")).to_have_count(0)  # nothing left to do
    expect(page.locator("main")).to_contain_text("it is now Front desk's prompt.")
    shots(page, screenshot, "decision-card-4-applied")

    agent = Experiment.objects.get(pk=experiment.pk).agent
    prompt_rollback(agent=agent, version=agent.versions.get(number=1), user="mona", reason="x")
    page.reload()
    expect(card(page)).to_contain_text(
        "Live now: Front desk's prompt was rolled back to the control's prompt; it is v1, "
        "not Variant B's (v2)."
    )
    expect(page.locator("main")).not_to_contain_text("it is now Front desk's prompt")
    shots(page, screenshot, "decision-card-5-rolled-back")


def test_the_scorecard_and_charts_agree_with_the_results_api(
    page, live_server, screenshot, admin_key
):
    operator = make_user("olivia", role="operator")
    experiment = stopped_winner(operator)
    log_in(page, live_server, "olivia", path=experiment.get_absolute_url())
    expect(page.locator(".scorecard")).to_be_visible()
    response = page.request.get(
        f"{live_server.url}/api/v1/experiments/{experiment.pk}/results",
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.ok
    api = response.json()
    b = next(v for v in api["variants"] if v["key"] == "b")

    goal_row = page.locator(".score-row.goal .score-variant").first
    expect(goal_row).to_contain_text(format_change(b["lift"]["absolute"], "conversion", True))
    expect(goal_row).to_contain_text(
        f"range {range_words(Change.from_json(b['lift']), 'conversion')}"
    )
    expect(goal_row.locator(".badge")).to_have_text("Better")
    guardrail = page.locator(".score-row.guardrail")
    expect(guardrail).to_contain_text("Transfer rate")
    state = "Shown to be no worse" if "b" not in api["guardrails"][0]["unproven"] else "Not yet"
    expect(guardrail.locator(".badge")).to_contain_text(state)
    expect(guardrail.locator("rect.limit")).to_have_count(1)  # the guardrail's limit line

    series = json.loads(page.locator("#series-data").text_content())
    last = series["points"][-1]
    assert series["step"] == "hour" and 60 <= len(series["points"]) <= 200
    for v in api["variants"]:
        assert last["mean"][v["key"]] == pytest.approx(v["mean"], rel=1e-9)
        assert last["units"][v["key"]] == v["units"]
    assert last["lift"]["b"] == pytest.approx(
        [b["lift"]["absolute"], b["lift"]["ci_low"], b["lift"]["ci_high"]], rel=1e-9
    )
    first = next(p for p in series["points"] if "b" in p["lift"])
    assert (
        last["lift"]["b"][2] - last["lift"]["b"][1] < first["lift"]["b"][2] - first["lift"]["b"][1]
    )  # the range narrowed
    assert page.evaluate(PAINTED) == [True, True]
    expect(page.locator("ul.markers")).to_contain_text("Stopped")
    labels = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas[data-chart=lift]'))"
        ".scales.x.ticks.map((t) => t.label)"
    )
    assert len(labels) == len(set(labels)) > 1  # no repeated tick labels
    shots(page, screenshot, "decision-card-6-scorecard-charts")


def test_a_refresh_keeps_details_open_and_the_charts_drawn(page, live_server, screenshot):
    operator = make_user("olivia", role="operator")
    experiment = running_for_days(operator, per_variant=300, rates={"control": 0.2, "b": 0.25})
    results_compute(experiment=experiment)
    log_in(page, live_server, "olivia", path=experiment.get_absolute_url())
    expect(card(page)).to_contain_text("No clear difference yet")
    expect(card(page)).to_contain_text("but the always-valid range still includes no change")
    assert re.search(r"about [\d,]+ more callers per variant", card(page).inner_text())
    page.locator("#results details summary").click()
    page.evaluate(
        """() => {
            window.refreshes = 0;
            document.body.addEventListener('htmx:afterSettle', (event) => {
                if (event.detail.target.id === 'results') window.refreshes += 1;
            });
        }"""
    )
    assert page.evaluate(PAINTED) == [True, True]
    wait_for_refresh(page)
    expect(page.locator("#results details")).to_have_attribute("open", "")
    assert page.evaluate(PAINTED) == [True, True]  # the refresh did not blank the charts
    assert experiment.status == Status.RUNNING
    shots(page, screenshot, "decision-card-7-running-not-yet")


def test_three_variants_with_a_paused_one_read_on_a_phone(page, live_server, screenshot):
    """A variant paused half-way for a worse transfer rate: the scorecard says so in words and
    colour, the chart marks the pause, and the page still fits 390 px."""
    operator = make_user("olivia", role="operator")
    agent = make_agent(name="Front desk", prompt=PROMPT, user=operator)
    experiment = experiment_start(
        experiment=make_experiment(agent=agent, user=operator, weights=(34, 33, 33)),
        user=operator,
    )
    start = timezone.now() - timedelta(days=4)
    paused_at = start + timedelta(days=2)
    ids = dict(experiment.variants.values_list("key", "id"))
    phases = [
        {
            "number": 1,
            "started_at": start.isoformat(),
            "weights": {str(ids["control"]): 34, str(ids["b"]): 33, str(ids["c"]): 33},
        },
        {
            "number": 2,
            "started_at": paused_at.isoformat(),
            "weights": {str(ids["control"]): 50, str(ids["b"]): 50, str(ids["c"]): 0},
        },
    ]
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start, phases=phases)
    for key, weight in (("control", 50), ("b", 50), ("c", 0)):
        experiment.variants.filter(key=key).update(weight=weight)
    experiment.refresh_from_db()
    rng = random.Random(11)
    calls = []
    for n in range(3000):
        at = start + timedelta(seconds=rng.uniform(60, 4 * 86400 - 60))
        keys = ["control", "b", "c"] if at < paused_at else ["control", "b"]
        key = rng.choice(keys)
        calls.append(
            Call(
                agent=agent,
                experiment=experiment,
                variant_id=ids[key],
                call_id=f"call-{n}",
                caller=f"caller-{n}",
                started_at=at,
                converted=rng.random() < {"control": 0.2, "b": 0.24, "c": 0.22}[key],
                duration_seconds=rng.uniform(30, 300),
                sentiment=rng.uniform(-1, 1),
                transferred=rng.random() < (0.45 if key == "c" else 0.05),
                completed=True,
            )
        )
    Call.objects.bulk_create(calls, batch_size=2000)
    results_compute(experiment=experiment)
    log_in(page, live_server, "olivia", path=experiment.get_absolute_url())

    expect(card(page)).to_contain_text("A guardrail got worse")
    expect(card(page)).to_contain_text("Variant C's transfer rate is")
    expect(card(page)).to_contain_text("Keep the test running for Variant B;")
    rows = page.locator(".score-row.guardrail .score-variant")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Variant C").locator(".badge")).to_have_text("Worse")
    expect(page.locator(".score-row.goal .score-variant")).to_have_count(2)
    expect(page.locator("ul.markers")).to_contain_text("Variant C paused")
    assert page.evaluate(PAINTED) == [True, True]
    shots(page, screenshot, "decision-card-8-three-variants-paused")
