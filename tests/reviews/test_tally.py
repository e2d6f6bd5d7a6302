import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy import stats as sps

from apps.experiments.models import ResultSnapshot
from apps.experiments.services import experiment_start
from apps.reviews.selectors import preference_tally
from apps.reviews.services import call_tag, pair_vote
from tests.factories import make_experiment, make_user
from tests.reviews.helpers import add_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def cast(experiment, reviewer, verdicts, *, first="control", second="b", offset=0):
    """One pair per verdict, in canonical terms (prefer_a = the `first` variant's call)."""
    firsts = add_calls(experiment, first, len(verdicts), prefix=f"{reviewer}-{first}-{offset}")
    seconds = add_calls(experiment, second, len(verdicts), prefix=f"{reviewer}-{second}-{offset}")
    for a, b, verdict in zip(firsts, seconds, verdicts, strict=True):
        pair_vote(experiment=experiment, reviewer=reviewer, call_a=a, call_b=b, choice=verdict)
    return firsts, seconds


def wilson(k, n):
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return pytest.approx((ci.low, ci.high), abs=1e-9)


def test_shares_and_ranges_match_an_independent_computation(running, manager, operator):
    cast(running, manager, ["prefer_b"] * 6 + ["prefer_a"] * 2 + ["both_good"] * 3)
    cast(running, operator, ["prefer_b", "prefer_a", "both_bad"], offset=1)
    rows = {row.variant.key: row for row in preference_tally(running).rows}
    b, control = rows["b"], rows["control"]
    assert (b.preferred, b.decided, b.both_good, b.both_bad) == (7, 10, 3, 1)
    assert (control.preferred, control.decided) == (3, 10)
    assert b.share == pytest.approx(0.7) and (b.low, b.high) == wilson(7, 10)
    assert (control.low, control.high) == wilson(3, 10)
    assert (b.votes, b.voters) == (14, 2) and (control.votes, control.voters) == (14, 2)


def test_votes_and_voters_overall(running, manager, operator, viewer):
    cast(running, manager, ["prefer_a", "prefer_b"])
    cast(running, operator, ["both_bad"])
    tally = preference_tally(running)
    assert (tally.votes, tally.voters) == (3, 2)


def test_with_three_variants_each_counts_only_its_own_pairs(operator, agent, manager):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    experiment_start(experiment=experiment, user=operator)
    cast(experiment, manager, ["prefer_b"] * 3)  # control vs B: B wins 3
    cast(experiment, manager, ["prefer_a", "prefer_b"], second="c", offset=1)  # 1 each
    rows = {row.variant.key: row for row in preference_tally(experiment).rows}
    assert (rows["b"].preferred, rows["b"].decided) == (3, 3)
    assert (rows["c"].preferred, rows["c"].decided) == (1, 2)
    assert (rows["control"].preferred, rows["control"].decided) == (1, 5)
    assert rows["control"].voters == 1


def test_top_three_tags_per_variant_with_counts(running, manager, operator):
    controls = add_calls(running, "control", 3)
    bs = add_calls(running, "b", 2)
    for person in (manager, operator):
        for call in controls:
            call_tag(call=call, author=person, tag="rude")
        call_tag(call=controls[0], author=person, tag="wrong information")
    call_tag(call=controls[1], author=manager, tag="interrupted")
    call_tag(call=controls[2], author=manager, tag="apologised")
    call_tag(call=bs[0], author=manager, tag="great save")
    rows = {row.variant.key: row for row in preference_tally(running).rows}
    assert rows["control"].tags == [("rude", 6), ("wrong information", 2), ("apologised", 1)]
    assert rows["b"].tags == [("great save", 1)]


def test_the_tally_is_a_fixed_number_of_queries(running, manager):
    cast(running, manager, ["prefer_b"] * 20)
    with CaptureQueriesContext(connection) as few:
        preference_tally(running)
    cast(running, manager, ["prefer_a"] * 40, offset=1)
    with CaptureQueriesContext(connection) as many:
        preference_tally(running)
    assert len(many) == len(few) <= 6


def test_the_sentence_says_whether_it_could_be_chance(running, manager):
    cast(running, manager, ["prefer_b"] * 2 + ["prefer_a"])
    assert "could still be chance" in preference_tally(running).sentence
    cast(running, manager, ["prefer_b"] * 9, offset=1)
    sentence = preference_tally(running).sentence
    assert sentence.startswith("Reviewers preferred Variant B in 11 of the 12 pairs")
    assert "unlikely to be chance" in sentence


def test_the_sentence_compares_with_the_numbers(running, manager):
    cast(running, manager, ["prefer_b"] * 12)
    ResultSnapshot.objects.create(
        experiment=running,
        computed_at=timezone.now(),
        verdict_code="no_difference_yet",
        verdict_sentence="",
        data={"variants": [{"key": "control", "mean": 0.4}, {"key": "b", "mean": 0.3}]},
    )
    assert (
        "The numbers do not agree: Control leads on the goal" in preference_tally(running).sentence
    )


def test_no_votes_yet_gives_empty_rows(running):
    tally = preference_tally(running)
    assert tally.votes == 0 and tally.top is None
    assert all(row.decided == 0 and row.share is None for row in tally.rows)


def test_only_both_good_or_bad_means_no_preference(running):
    cast(running, make_user("rita", role="manager"), ["both_good", "both_bad"])
    assert "no preference yet" in preference_tally(running).sentence
