"""Starting a rehearsal from the agent's scenarios page, and reading an evaluation side by side,
on real evaluations played against the scripted SimServer."""

import pytest
from django.test.html import Element
from scipy import stats as sps

from apps.agents.services import prompt_version_create
from apps.rehearsals.models import Evaluation
from apps.rehearsals.sentences import MINUS, points
from tests.rehearsals.helpers import ALSO_GOOD, DATES, FORGETFUL, GOOD, dental_agent, evaluate
from tests.rehearsals.html import classes, find, page, text

pytestmark = pytest.mark.django_db
NAMES = sorted(f"Booking on {d}" for d in DATES)  # the pages list scenarios by name


def test_rehearse_defaults_to_newest_against_current_and_starts_an_evaluation(
    client, operator, sim, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    newest = prompt_version_create(agent=agent, body=ALSO_GOOD, user=operator)
    client.force_login(operator)
    listed = client.get(f"/rehearsals/agents/{agent.slug}/scenarios/").content.decode()
    assert f'<option value="{newest.number}" selected>' in listed
    assert f'<option value="{agent.current_version.number}" selected>' in listed
    form = {"variant": newest.number, "control": agent.current_version.number, "plays": "2"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/rehearsals/agents/{agent.slug}/evaluations/", form)
    evaluation = Evaluation.objects.get()
    assert response["Location"] == f"/rehearsals/evaluations/{evaluation.pk}/"
    assert evaluation.variant_prompt == newest and evaluation.plays == 2
    assert evaluation.variant_config == evaluation.control_config == agent.config
    evaluation.refresh_from_db()
    assert evaluation.status == "done" and evaluation.conversations.count() == 3 * 2 * 2


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"variant": "99", "control": "1", "plays": "3"}, "has no prompt version “99”"),
        ({"variant": "1", "control": "1", "plays": "0"}, "from 1 to 20"),
        ({"variant": "1", "control": "1", "plays": "1e9"}, "from 1 to 20"),
        ({"variant": "1", "control": "1", "plays": "-1"}, "from 1 to 20"),
        ({"variant": "1", "control": "1", "plays": "99999999999999999999"}, "from 1 to 20"),
        ({"variant": "1", "control": "1", "plays": "NaN"}, "from 1 to 20"),
        ({"variant": "1\x00", "control": "1", "plays": "3"}, "NUL character"),
    ],
)
def test_rehearse_refuses_bad_choices_in_plain_words(client, operator, sim, form, said):
    agent = dental_agent(operator)
    client.force_login(operator)
    response = client.post(f"/rehearsals/agents/{agent.slug}/evaluations/", form, follow=True)
    assert said in response.content.decode() and not Evaluation.objects.exists()


def _sides(article: Element) -> tuple[Element, Element]:
    control, variant = find(article, "rh-side")
    assert "rh-side-control" in classes(control) and "rh-side-variant" in classes(variant)
    return control, variant


def test_the_page_shows_each_scenario_side_by_side_and_highlights_the_failing_turn(
    client, viewer, operator, sim, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    client.force_login(viewer)
    html = page(client, f"/rehearsals/evaluations/{evaluation.pk}/")
    gate = text(find(html, "rh-gate")[0])
    assert gate.startswith("Failed: the variant may do worse than the control by more than 5")
    articles = find(html, "rh-pair")
    assert [text(find(a, "rh-pair-title")[0]) for a in articles] == NAMES
    for article, name in zip(articles, NAMES, strict=True):
        control, variant = _sides(article)
        assert text(control).count("✓ Passed") == 3 and "✗ Failed" not in text(control)
        assert text(variant).count("✗ Failed") == 3 and "✓ Passed" not in text(variant)
        assert not find(control, "rh-failing")
        failing = find(variant, "rh-failing")
        # By hand: the agent turns of the stored variant transcripts that say the phrase.
        stored = evaluation.conversations.filter(arm="variant", scenario_name=name)
        expected = [
            t["text"]
            for c in stored.order_by("play")
            for t in c.transcript
            if t["speaker"] == "agent" and "next free slot" in t["text"]
        ]
        assert [text(f).removeprefix("Agent · fails a check ") for f in failing] == expected
    overall = text(find(html, "rh-overall")[0])
    assert overall == "Every check passed (overall) 100% 0%"


def test_the_range_on_the_page_is_scipys_paired_interval(
    client, viewer, operator, sim, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    sim.judge_needs = "march 3"  # uneven shares across scenarios: a real range
    evaluation = evaluate(agent, FORGETFUL, django_capture_on_commit_callbacks, operator)
    shares = {}
    for arm in ("control", "variant"):
        shares[arm] = [
            sum(c.overall == "pass" for c in rows) / len(rows)
            for d in DATES
            if (
                rows := list(
                    evaluation.conversations.filter(arm=arm, scenario_name=f"Booking on {d}")
                )
            )
        ]
    ci = sps.ttest_rel(shares["variant"], shares["control"]).confidence_interval(0.95)
    client.force_login(viewer)
    said = text(page(client, f"/rehearsals/evaluations/{evaluation.pk}/"))
    mean = (sum(shares["variant"]) - sum(shares["control"])) / len(DATES)
    assert f"a difference of {points(mean)} points" in said
    # Three scenarios: scipy's interval (-1.77, +1.10) reaches past what a difference of two
    # shares can be; the page cuts it at -100 and +100 points.
    assert ci.low < -1 and ci.high > 1
    assert f"95% range {points(max(ci.low, -1))} to {points(min(ci.high, 1))}" in said
    assert f"95% range {MINUS}100 to +100" in said


def test_a_good_variant_reads_passed(
    client, viewer, operator, sim, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    evaluation = evaluate(agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator)
    client.force_login(viewer)
    html = page(client, f"/rehearsals/evaluations/{evaluation.pk}/")
    assert text(find(html, "rh-gate")[0]).startswith(
        "Passed: the variant did as well as the control within 5 points."
    )
    assert not find(html, "rh-failing")


def test_a_timeout_is_shown_as_not_played_never_as_a_fail(
    client, viewer, operator, sim, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_TIMEOUT_SECONDS = 0.3
    agent = dental_agent(operator, dates=DATES[:2])
    evaluation = evaluate(
        agent, GOOD + " [hang]", django_capture_on_commit_callbacks, operator, plays=1
    )
    client.force_login(viewer)
    html = page(client, f"/rehearsals/evaluations/{evaluation.pk}/")
    for article in find(html, "rh-pair"):
        control, variant = _sides(article)
        assert "Failed" not in text(variant) and "Not played" in text(variant)
        assert "no answer within 0.3 s" in text(find(variant, "rh-not-played")[0])
        assert "✓ Passed" in text(control)
    assert "too few to tell" in text(find(html, "rh-gate")[0])


def test_the_page_polls_while_running_and_stops_once_done(
    client, viewer, operator, sim, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    variant = prompt_version_create(agent=agent, body=ALSO_GOOD, user=operator)
    from apps.rehearsals.services import evaluation_run, evaluation_start

    evaluation = evaluation_start(  # not run: its task waits for a commit that never comes
        agent=agent,
        variant_prompt=variant,
        variant_config=agent.config,
        control_prompt=agent.current_version,
        control_config=agent.config,
        user=operator,
    )
    client.force_login(viewer)
    waiting = client.get(f"/rehearsals/evaluations/{evaluation.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in waiting and "Still running" in waiting
    assert "0 of 18 conversations" in waiting
    evaluation_run(evaluation=evaluation)
    polled = client.get(f"/rehearsals/evaluations/{evaluation.pk}/", headers={"HX-Request": "true"})
    fragment = polled.content.decode()
    assert fragment.lstrip().startswith('<div id="live">') and "<html" not in fragment
    assert "hx-trigger" not in fragment and "Passed:" in fragment


def test_a_run_stopped_at_the_cost_cap_reads_failed_with_why(
    client, viewer, operator, sim, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_CONCURRENCY = 1
    settings.SIMULATION_USD_PER_MILLION_INPUT_TOKENS = 10_000.0  # 100 tokens in = US$1
    settings.SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS = 0.0
    agent = dental_agent(operator)
    evaluation = evaluate(
        agent, ALSO_GOOD, django_capture_on_commit_callbacks, operator, cost_cap_usd=8.0
    )
    assert evaluation.status == "stopped"
    client.force_login(viewer)
    html = page(client, f"/rehearsals/evaluations/{evaluation.pk}/")
    gate = text(find(html, "rh-gate")[0])
    assert gate.startswith("Failed: the evaluation did not finish")
    assert "Stopped at the cost cap" in gate and "Passed" not in gate
    played = evaluation.conversations.count()
    assert f"{played} of 18 conversations" in text(html)
    assert "US$14 of the US$8 allowed" in text(html)  # US$6 simulated + US$1 judged, twice
