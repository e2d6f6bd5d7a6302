"""The experiment's timeline: each event in words, in order, with who did it."""

import pytest
from django.urls import reverse

from apps.agents.services import prompt_rollback
from apps.experiments.selectors import experiment_timeline
from apps.experiments.services import (
    experiment_start,
    experiment_stop,
    experiment_update,
    variant_pause,
    variant_resume,
    weights_set,
    winner_apply,
)
from apps.judging.services.criteria import criterion_update
from tests.experiments.test_services import snapshot_saying
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def lived(agent, operator, manager):
    """A custom-goal experiment taken through every event the timeline names."""
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="custom", goal_criteria="Learns the budget."
    )
    experiment_update(  # editing a draft is not an event: nothing reached a caller yet
        experiment=experiment,
        user=operator,
        name="Budget early",
        goal_kind="custom",
        goal_criteria="Learns the budget.",
    )
    experiment.judge_base_url, experiment.judge_model = "http://judge.test/v1", "judge-1"
    experiment.save(update_fields=["judge_base_url", "judge_model"])
    experiment_start(experiment=experiment, user=operator)
    weights_set(experiment=experiment, weights={"control": 70, "b": 30}, user=operator)
    variant_pause(
        experiment=experiment, variant_key="b", reason="Too many transfers", user="guardrails"
    )
    variant_resume(experiment=experiment, variant_key="b", user=manager)
    criterion_update(experiment=experiment, text="Learns budget and timeline.", user=manager)
    experiment_stop(experiment=experiment, user=operator)
    snapshot_saying(experiment, "winning", "Variant B passes more often.")
    winner_apply(experiment=experiment, variant_key="b", user=manager)
    experiment.refresh_from_db()
    prompt_rollback(
        agent=agent, version=agent.versions.get(number=1), user=manager, reason="Callers hung up"
    )
    experiment.refresh_from_db()
    return experiment


def test_each_event_appears_in_order_with_who_did_it(lived):
    events = experiment_timeline(lived)
    assert [(e.kind, e.who) for e in events] == [
        ("drafted", "olivia"),
        ("started", "olivia"),
        ("split", "olivia"),
        ("paused", "guardrails"),
        ("resumed", "mona"),
        ("judge", "mona"),
        ("stopped", "olivia"),
        ("applied", "mona"),
        ("rolled_back", "mona"),
    ]
    words = [e.words for e in events]
    assert words[2] == "Changed the split to Control 70%, Variant B 30%"
    assert words[3] == "Paused Variant B: “Too many transfers”"
    assert words[4] == "Resumed Variant B"
    assert words[7].startswith("Applied Variant B (v2): it became")
    assert words[8] == f"Rolled {lived.agent.name}'s prompt back from v2 to v1: “Callers hung up”"
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_the_experiment_page_shows_the_timeline(client, viewer, lived):
    client.force_login(viewer)
    page = client.get(reverse("experiments:detail", args=[lived.pk])).text
    assert "What happened" in page
    order = [
        "Drafted the experiment",
        "Started it",
        "Changed the split to Control 70%",
        "Paused Variant B",
        "Resumed Variant B",
        "Changed the judge&#x27;s criterion",
        "Stopped it",
        "Applied Variant B",
        "prompt back from v2 to v1",
    ]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert "by guardrails" in page and "by mona" in page


def test_a_draft_shows_only_that_it_was_drafted(experiment):
    assert [e.kind for e in experiment_timeline(experiment)] == ["drafted"]
