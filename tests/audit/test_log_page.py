"""The audit log page: what each role reads, and the votes of blind reviews kept blind."""

import pytest
from django.urls import reverse

from apps.experiments.services import experiment_start, weights_set
from apps.reviews.services import pair_vote
from tests.factories import make_user
from tests.reviews.helpers import add_calls

pytestmark = pytest.mark.django_db
NOTE = "the second caller was thanked warmly"


@pytest.fixture
def voted(experiment, operator):
    running = experiment_start(experiment=experiment, user=operator)
    control, b = add_calls(running, "control", 1)[0], add_calls(running, "b", 1)[0]
    pair_vote(
        experiment=running,
        reviewer=operator,
        call_a=b,
        call_b=control,
        choice="prefer_a",
        note=NOTE,
    )
    return running


def _log(client, person, **params):
    client.force_login(person)
    response = client.get(reverse("audit:log"), params)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_people_other_than_managers_do_not_read_how_a_reviewer_voted(client, voted, role):
    text = _log(client, make_user(f"someone-{role}", role=role), action="review.vote")

    assert "voted on a pair of calls" in text and "olivia" in text  # that a vote happened
    assert NOTE not in text and "prefer_a" not in text and "preferred" not in text
    assert "managers see them here" in text


def test_a_reviewer_does_not_read_her_own_blind_votes_back_in_the_log(client, voted, operator):
    text = _log(client, operator, action="review.vote")

    assert NOTE not in text and "preferred" not in text


def test_a_manager_reads_every_vote(client, voted, manager):
    text = _log(client, manager, action="review.vote")

    assert NOTE in text and "preferred" in text and "prefer_b" in text  # canonical order


def test_the_vote_stays_hidden_whatever_the_filter(client, voted, viewer):
    for params in ({}, {"who": "olivia"}, {"q": "Vote on calls"}):
        assert NOTE not in _log(client, viewer, **params)


def test_other_changes_keep_their_details_for_every_role(client, experiment, operator, viewer):
    weights_set(experiment=experiment, weights={"control": 80, "b": 20}, user=operator)

    text = _log(client, viewer, action="experiment.weights")

    assert "80" in text and "20" in text
