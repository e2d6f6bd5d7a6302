import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.experiments.services import experiment_start
from apps.reviews.models import CallTag, PairVote
from apps.reviews.services import call_tag, call_untag, pair_vote
from tests.factories import make_agent, make_experiment
from tests.reviews.helpers import add_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


@pytest.fixture
def control_call(running):
    return add_calls(running, "control", 1)[0]


@pytest.fixture
def b_call(running):
    return add_calls(running, "b", 1)[0]


def vote(running, manager, first, second, choice="prefer_a", note=""):
    return pair_vote(
        experiment=running, reviewer=manager, call_a=first, call_b=second, choice=choice, note=note
    )


def test_a_vote_is_stored_in_canonical_order_naming_the_preferred_variant(
    running, manager, control_call, b_call
):
    # Shown with B's call on the left (as blind mode may), the reviewer prefers the left one.
    stored = vote(running, manager, b_call, control_call, "prefer_a", note="  Warmer.  ")
    assert (stored.call_a, stored.call_b) == (control_call, b_call)  # control's variant first
    assert (stored.variant_a.key, stored.variant_b.key) == ("control", "b")
    assert stored.verdict == "prefer_b" and stored.note == "Warmer."
    assert stored.preferred_call_id == b_call.pk


def test_the_same_pair_shown_either_way_round_is_one_vote(running, manager, control_call, b_call):
    vote(running, manager, control_call, b_call, "prefer_b")  # B on the right, preferred
    vote(running, manager, b_call, control_call, "prefer_a")  # B on the left, preferred
    stored = PairVote.objects.get()
    assert stored.verdict == "prefer_b" and stored.preferred_call_id == b_call.pk


def test_voting_again_updates_the_vote(running, manager, control_call, b_call):
    vote(running, manager, control_call, b_call, "prefer_a")
    vote(running, manager, control_call, b_call, "both_good", note="Both fine")
    stored = PairVote.objects.get()
    assert (stored.verdict, stored.note) == ("both_good", "Both fine")
    entries = AuditEntry.objects.filter(action="review.vote").order_by("id")
    assert [e.after["verdict"] for e in entries] == ["prefer_a", "both_good"]
    assert entries[0].after["preferred"] == "control" and entries[1].after["preferred"] is None
    assert entries[1].before == {"verdict": "prefer_a", "note": ""}
    assert entries[1].actor == manager


def test_each_reviewer_has_a_vote_of_their_own(running, manager, operator, control_call, b_call):
    vote(running, manager, control_call, b_call, "prefer_a")
    vote(running, operator, control_call, b_call, "prefer_b")
    assert PairVote.objects.count() == 2


def refused(match, running, manager, first, second, choice="prefer_a", note=""):
    votes, entries = PairVote.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationError, match=match):
        vote(running, manager, first, second, choice, note)
    assert (PairVote.objects.count(), AuditEntry.objects.count()) == (votes, entries)


def test_it_refuses_two_calls_of_the_same_variant(running, manager):
    one, two = add_calls(running, "b", 2)
    message = "Both calls are from Variant B; a pair compares calls of two different variants"
    refused(message, running, manager, one, two)


def test_it_refuses_a_call_of_another_experiment(running, manager, operator, control_call):
    other = make_experiment(agent=make_agent(user=operator), user=operator, name="Other")
    experiment_start(experiment=other, user=operator)
    stranger = add_calls(other, "b", 1, prefix="other")[0]
    message = f"Call {stranger.call_id} is not part of “Warmer greeting”"
    refused(message, running, manager, control_call, stranger)


@pytest.mark.parametrize("choice", ["left", "", "PREFER_A", None])
def test_it_refuses_a_choice_it_does_not_know(running, manager, control_call, b_call, choice):
    refused("Say which call went better", running, manager, control_call, b_call, choice)


def test_it_refuses_a_call_compared_with_itself(running, manager, control_call):
    refused("cannot be compared with itself", running, manager, control_call, control_call)


def test_it_refuses_calls_reported_after_the_stop(running, manager, control_call):
    late = add_calls(running, "b", 1, after_stop=True, prefix="late")[0]
    refused("came in after the experiment stopped", running, manager, control_call, late)


def test_it_refuses_a_note_longer_than_a_thousand_characters(
    running, manager, control_call, b_call
):
    long_note = "x" * 1001
    refused(
        "note to 1000 characters; this one has 1001",
        running,
        manager,
        control_call,
        b_call,
        note=long_note,
    )


def test_a_tag_is_tidied_and_audited(manager, control_call):
    tag = call_tag(call=control_call, author=manager, tag="  Wrong   Information ")
    assert tag.tag == "wrong information"
    again = call_tag(call=control_call, author=manager, tag="wrong information")
    assert again.pk == tag.pk and CallTag.objects.count() == 1  # one tag text per author
    entry = AuditEntry.objects.get(action="review.tag")
    assert entry.after == {"tag": "wrong information"} and entry.object_id == str(control_call.pk)


def test_two_people_may_put_the_same_tag_on_a_call(manager, operator, control_call):
    call_tag(call=control_call, author=manager, tag="rude")
    call_tag(call=control_call, author=operator, tag="rude")
    assert CallTag.objects.filter(call=control_call, tag="rude").count() == 2


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "Write a tag"), ("   ", "Write a tag"), ("x" * 41, "to 40 characters; this one has 41")],
)
def test_it_refuses_an_empty_or_too_long_tag(manager, control_call, text, match):
    entries = AuditEntry.objects.count()
    with pytest.raises(ValidationError, match=match):
        call_tag(call=control_call, author=manager, tag=text)
    assert CallTag.objects.count() == 0 and AuditEntry.objects.count() == entries


def test_a_tag_of_exactly_forty_characters_is_fine(manager, control_call):
    assert call_tag(call=control_call, author=manager, tag="y" * 40).tag == "y" * 40


def test_only_the_author_removes_their_tag(manager, operator, control_call):
    call_tag(call=control_call, author=manager, tag="great save")
    assert call_untag(call=control_call, author=operator, tag="great save") is False
    assert CallTag.objects.count() == 1
    assert call_untag(call=control_call, author=manager, tag="Great Save") is True
    assert CallTag.objects.count() == 0
    assert AuditEntry.objects.get(action="review.untag").before == {"tag": "great save"}


def test_only_people_vote_or_tag(running, control_call, b_call):
    with pytest.raises(ValidationError, match="signed-in person"):
        vote(running, "automation key", control_call, b_call)
    with pytest.raises(ValidationError, match="signed-in person"):
        call_tag(call=control_call, author=None, tag="rude")
