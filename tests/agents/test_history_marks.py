"""The prompt history says which versions were live, from when to when, and who made them
live; the default diff compares the version live before with the one live now."""

import re

import pytest
from django.urls import reverse

from apps.agents import selectors
from apps.agents.services import agent_prompt_update, prompt_rollback
from apps.experiments.services import experiment_start, experiment_stop, winner_apply
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def applied(agent, operator, manager):
    """v1 live; an experiment forks v2 (B) and v3 (C); C wins and is applied by a manager."""
    experiment = make_experiment(agent=agent, user=operator, weights=(33, 33, 34))
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    winner_apply(experiment=experiment, variant_key="c", user=manager, reason="Reads better")
    agent.refresh_from_db()
    return experiment


def page(client, agent, **headers):
    return client.get(reverse("agents:detail", args=[agent.slug]), **headers).text


def history_row(text, number):
    return re.search(rf'<tr id="v{number}">(.*?)</tr>', text, re.S).group(1)


def test_after_an_apply_the_default_diff_is_from_the_version_live_before(
    client, viewer, agent, applied
):
    assert agent.current_version.number == 3
    client.force_login(viewer)
    text = page(client, agent)
    assert "Going from <strong>v1</strong> to <strong>v3</strong>" in text
    assert '<option value="1" selected>v1</option>' in text


def test_the_history_marks_live_versions_and_who_made_them_live(
    client, viewer, agent, applied, operator
):
    client.force_login(viewer)
    text = page(client, agent)
    now = history_row(text, 3)
    assert "<strong>Live now</strong>, since" in now
    assert "mona applied it as the winner of “Warmer greeting”" in now
    assert "Never live" in history_row(text, 2)  # variant B's prompt lost
    first = history_row(text, 1)
    assert "Live now" not in first and " to " in first
    assert f"{operator.username} created the agent with it" in first
    assert "Live since" in text and "mona applied it as the winner" in text  # the prompt card


def test_a_rollback_is_marked_and_the_diff_shows_what_it_undid(client, viewer, agent, applied):
    prompt_rollback(
        agent=agent, version=agent.versions.get(number=1), user="key:ops", reason="oops"
    )
    client.force_login(viewer)
    text = page(client, agent)
    assert "Going from <strong>v3</strong> to <strong>v1</strong>" in text
    first = history_row(text, 1)
    assert "<strong>Live now</strong>" in first
    assert "key:ops rolled the prompt back to it: “oops”" in first
    assert "created the agent with it" in first  # its first period is listed too
    assert "Live now" not in history_row(text, 3) and " to " in history_row(text, 3)


def test_periods_follow_each_other_without_gaps(agent, operator, applied):
    agent_prompt_update(agent=agent, body="Say hello, then book.", user=operator, note="direct")
    agent.refresh_from_db()
    periods = selectors.live_periods(agent)
    assert [p.number for p in periods] == [1, 3, 4]
    assert [p.previous for p in periods] == [None, 1, 3]
    assert [p.until for p in periods[:-1]] == [p.since for p in periods[1:]]
    assert periods[-1].until is None and periods[-1].how == "saved it as the new prompt"


def test_live_periods_cost_one_query(agent, applied, django_assert_num_queries):
    agent = selectors.agents_for_page().get(pk=agent.pk)  # as the page reads it
    with django_assert_num_queries(1):
        selectors.live_periods(agent)


def test_an_agent_without_logged_changes_shows_its_current_version_as_live(agent):
    from apps.audit.models import AuditEntry

    AuditEntry.objects.all().delete()
    periods = selectors.live_periods(agent)
    assert [(p.number, p.until, p.how) for p in periods] == [(1, None, "")]
