import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.models import ResultSnapshot
from apps.experiments.services import experiment_start
from apps.reviews import selectors
from apps.reviews.spec import MAX_SIZE, SampleSpec, spec_from_params
from tests.factories import make_experiment
from tests.reviews.helpers import add_calls

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def spec(**kw) -> SampleSpec:
    return SampleSpec(**{"a": "control", "b": "b", "seed": 42, **kw})


def call_ids(sample, side="a") -> list[str]:
    """The sampled calls of one variant, in pair order (blind mode may swap sides)."""
    key = sample.variant_a.pk if side == "a" else sample.variant_b.pk
    return [
        call.call_id
        for pair in sample.pairs
        for call in (pair.left, pair.right)
        if call is not None and call.variant_id == key
    ]


def test_the_same_seed_draws_the_same_calls(running):
    add_calls(running, "control", 60)
    add_calls(running, "b", 60)
    first = selectors.review_sample(running, spec(seed=7))
    again = selectors.review_sample(running, spec(seed=7))
    assert len(first.pairs) == 10
    assert call_ids(first) == call_ids(again) and call_ids(first, "b") == call_ids(again, "b")


def test_another_seed_draws_other_calls(running):
    add_calls(running, "control", 60)
    add_calls(running, "b", 60)
    one, other = (selectors.review_sample(running, spec(seed=s)) for s in (7, 8))
    assert set(call_ids(one)) != set(call_ids(other))
    assert set(call_ids(one, "b")) != set(call_ids(other, "b"))


def test_the_sample_does_not_depend_on_the_order_calls_arrived(running):
    add_calls(running, "control", 40)
    add_calls(running, "b", 40)
    before = selectors.review_sample(running, spec(seed=99))
    first_ids = set(Call.objects.values_list("id", flat=True))
    Call.objects.all().delete()
    for i in reversed(range(40)):  # the same calls, reported in the opposite order
        add_calls(running, "b", 1, start=i)
        add_calls(running, "control", 1, start=i)
    assert not first_ids & set(Call.objects.values_list("id", flat=True))  # new row ids
    after = selectors.review_sample(running, spec(seed=99))
    assert call_ids(after) == call_ids(before) and call_ids(after, "b") == call_ids(before, "b")


def test_the_sample_is_spread_over_all_the_calls(running):
    add_calls(running, "control", 200)
    add_calls(running, "b", 200)
    drawn = set()
    for seed in range(30):
        drawn |= set(call_ids(selectors.review_sample(running, spec(seed=seed))))
    assert len(drawn) > 150  # not always the same few, not the newest or the oldest


def test_only_converted_calls_when_asked(running):
    add_calls(running, "control", 20, converted=True)
    add_calls(running, "control", 20, converted=False, prefix="lost")
    add_calls(running, "b", 30, converted=True)
    sample = selectors.review_sample(running, spec(outcome="converted"))
    calls = [c for p in sample.pairs for c in (p.left, p.right)]
    assert len(calls) == 20 and all(c.converted for c in calls)
    sample = selectors.review_sample(running, spec(outcome="not_converted"))
    assert all(p.right is None and p.left.converted is False for p in sample.pairs)


def test_transferred_and_long_filters(running):
    add_calls(running, "control", 10, transferred=True, duration_seconds=300.0)
    add_calls(running, "control", 10, transferred=False, duration_seconds=30.0, prefix="short")
    add_calls(running, "b", 10, transferred=True, duration_seconds=40.0)
    add_calls(running, "b", 10, transferred=False, duration_seconds=200.0, prefix="long-b")
    assert selectors.median_duration(running) == pytest.approx(120.0)  # (40 + 200) / 2

    transferred = selectors.review_sample(running, spec(transferred=True, n=20))
    assert all(c.transferred for p in transferred.pairs for c in (p.left, p.right))

    long = selectors.review_sample(running, spec(long=True, n=20))
    calls = [c for p in long.pairs for c in (p.left, p.right) if c]
    assert len(calls) == 20 and all(c.duration_seconds > 120 for c in calls)
    assert long.threshold == pytest.approx(120.0)

    over = selectors.review_sample(running, spec(min_seconds=250, long=True, n=20))
    assert [c.duration_seconds for p in over.pairs for c in (p.left, p.right) if c] == [300.0] * 10


def test_stratified_takes_as_many_converted_as_not_from_each_side(running):
    add_calls(running, "control", 30, converted=True)
    add_calls(running, "control", 30, converted=False, prefix="c-lost")
    add_calls(running, "b", 30, converted=True, prefix="b-won")
    add_calls(running, "b", 30, converted=False)
    sample = selectors.review_sample(running, spec(stratified=True, n=10))
    assert [p.outcome for p in sample.pairs] == ["converted"] * 5 + ["not_converted"] * 5
    for pair in sample.pairs:
        assert pair.left.converted == pair.right.converted == (pair.outcome == "converted")
    assert not sample.shortfalls


def test_fewer_calls_than_asked_shows_what_there_is_and_says_so(running):
    add_calls(running, "control", 30, converted=True)
    add_calls(running, "control", 30, converted=False, prefix="c-lost")
    add_calls(running, "b", 4, converted=True, prefix="b-won")
    add_calls(running, "b", 30, converted=False)
    sample = selectors.review_sample(running, spec(stratified=True, n=20))
    converted = [p for p in sample.pairs if p.outcome == "converted"]
    assert len(converted) == 10 and sum(p.complete for p in converted) == 4
    assert [s.sentence(hidden=False) for s in sample.shortfalls] == [
        "Only 4 converted calls of Variant B match; showing 4."
    ]
    assert sample.shortfalls[0].sentence(hidden=True) == (
        "Only 4 converted calls of one of the two variants match; showing 4."
    )


def test_no_match_at_all_is_said_plainly(running):
    add_calls(running, "control", 5)
    sample = selectors.review_sample(running, spec(transferred=True))
    assert sample.pairs == []
    assert {s.sentence(hidden=False) for s in sample.shortfalls} == {
        "No calls of Control match these filters.",
        "No calls of Variant B match these filters.",
    }


def test_calls_reported_after_the_stop_are_never_sampled(running):
    add_calls(running, "control", 3)
    add_calls(running, "control", 50, after_stop=True, prefix="late")
    add_calls(running, "b", 50, after_stop=True, prefix="late-b")
    sample = selectors.review_sample(running, spec(n=50))
    assert call_ids(sample) and not [c for c in call_ids(sample) if c.startswith("late")]
    assert call_ids(sample, "b") == []


def test_blind_mode_shuffles_sides_the_same_way_for_the_same_seed(running):
    add_calls(running, "control", 40)
    add_calls(running, "b", 40)
    blind = selectors.review_sample(running, spec(blind=True, n=40))
    again = selectors.review_sample(running, spec(blind=True, n=40))
    sides = [p.left.variant.key for p in blind.pairs]
    assert sides == [p.left.variant.key for p in again.pairs]
    assert 5 < sides.count("b") < 35  # both ways round, about half each
    plain = selectors.review_sample(running, spec(n=40))
    assert {p.left.variant.key for p in plain.pairs} == {"control"}
    assert set(call_ids(blind)) == set(call_ids(plain))  # blinding changes sides, not calls


def test_the_default_pair_is_control_and_the_leader(operator, agent):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    assert selectors.default_pair(experiment) == ("control", "b")  # no results yet
    ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        verdict_code="no_difference_yet",
        verdict_sentence="",
        data={
            "variants": [
                {"key": "control", "mean": 0.5, "is_control": True},
                {"key": "b", "mean": 0.2},
                {"key": "c", "mean": 0.3},
            ]
        },
    )
    assert selectors.default_pair(experiment) == ("control", "c")


def test_a_link_is_read_back_into_the_same_sample():
    params = {"a": "b", "b": "control", "n": "12", "seed": "31337", "outcome": "converted"}
    params |= {"transferred": "1", "min_seconds": "90", "blind": "1", "reveal": "1"}
    read = spec_from_params(params, default_a="control", default_b="b", keys=["control", "b"])
    assert read.params() == params
    assert "reveal" not in read.params(shared=True)
    assert read.with_seed(5).params()["seed"] == "5" and not read.with_seed(5).reveal


@pytest.mark.parametrize(
    ("params", "expected", "note"),
    [
        ({"n": "500"}, {"n": MAX_SIZE}, "A sample has 1 to 50 calls per variant; showing 50."),
        ({"n": "zero"}, {"n": 10}, "A sample has 1 to 50 calls per variant; showing 10."),
        ({"a": "zz"}, {"a": "control", "b": "b"}, "does not have"),
        ({"a": "b", "b": "b"}, {"a": "control", "b": "b"}, "Pick two different variants"),
        ({"stratified": "1", "outcome": "converted"}, {"outcome": "", "stratified": True}, ""),
    ],
)
def test_nonsense_in_a_link_falls_back_and_says_so(params, expected, note):
    read = spec_from_params(params, default_a="control", default_b="b", keys=["control", "b"])
    assert {k: getattr(read, k) for k in expected} == expected
    assert note in " ".join(read.notes)
