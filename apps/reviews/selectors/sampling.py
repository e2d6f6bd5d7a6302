"""Which experiments to review, the sample a link describes, and the votes and tags on it."""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import zip_longest

from django.core.cache import cache
from django.db.models import CharField, Count, Exists, OuterRef, Q, Value
from django.db.models.functions import MD5, Concat

from apps.calls.models import Call
from apps.experiments.models import Experiment, Status, Variant
from apps.experiments.selectors import latest_snapshot
from apps.reviews.models import CallTag, PairVote, canonical_pair
from apps.reviews.spec import OUTCOMES, SampleSpec

MEDIAN_CACHE_SECONDS = 300


def experiments_for_reviews():
    """Running and stopped experiments that have calls to read, with their votes so far."""
    has_calls = Call.objects.filter(experiment=OuterRef("pk"), after_stop=False)
    return (
        Experiment.objects.filter(status__in=[Status.RUNNING, Status.STOPPED])
        .filter(Exists(has_calls))
        .select_related("agent")
        .annotate(
            votes=Count("pair_votes", distinct=True),
            voters=Count("pair_votes__reviewer", distinct=True),
        )
        .order_by("-started_at", "-id")
    )


def default_pair(experiment: Experiment) -> tuple[str, str]:
    """Control and the leader: the non-control variant with the best goal metric in the
    latest results, else the first non-control variant."""
    variants = list(experiment.variants.all())
    control = next((v for v in variants if v.is_control), variants[0])
    others = [v.key for v in variants if v.pk != control.pk]
    if not others:
        return control.key, control.key
    return control.key, leader_key(experiment, others) or others[0]


def leader_key(experiment: Experiment, keys) -> str | None:
    snapshot = latest_snapshot(experiment)
    rows = [
        row
        for row in (snapshot.result.variants if snapshot else ())
        if row.key in keys and row.mean is not None
    ]
    if not rows:
        return None
    best = min if experiment.goal_direction == "lower" else max
    return best(rows, key=lambda row: row.mean).key


def median_duration(experiment: Experiment) -> float | None:
    """The median call duration of the experiment (calls after the stop left out).

    Sorting a million durations takes a second or two, so the answer is cached for a few
    minutes under the current number of calls: a new call makes a new key."""
    calls = Call.objects.filter(
        experiment=experiment, after_stop=False, duration_seconds__isnull=False
    )
    count = calls.count()
    if not count:
        return None
    key = f"reviews:median:{experiment.pk}:{count}"
    median = cache.get(key)
    if median is None:
        ordered = calls.order_by("duration_seconds").values_list("duration_seconds", flat=True)
        middle = list(ordered[(count - 1) // 2 : count // 2 + 1])
        median = sum(middle) / len(middle)
        cache.set(key, median, MEDIAN_CACHE_SECONDS)
    return median


def sample_candidates(experiment: Experiment, variant: Variant, spec: SampleSpec, *, outcome=""):
    """The calls of one variant that the filters let into the sample."""
    calls = Call.objects.filter(experiment=experiment, variant=variant, after_stop=False)
    if outcome:
        calls = calls.filter(converted=outcome == "converted")
    if spec.transferred:
        calls = calls.filter(transferred=True)
    threshold = long_call_threshold(experiment, spec)
    if threshold is not None:
        calls = calls.filter(duration_seconds__gt=threshold)
    return calls


def long_call_threshold(experiment: Experiment, spec: SampleSpec) -> float | None:
    """Seconds a call must last to count as long: the typed minimum, else the median."""
    if spec.min_seconds is not None:
        return spec.min_seconds
    return median_duration(experiment) if spec.long else None


def sample_ids(calls, *, seed: int, k: int) -> list[int]:
    """k calls drawn at random, reproducibly: the calls ordered by md5(seed:call_id), first k.

    Why in SQL rather than fetching ids and sampling in Python: only k ids leave the
    database, the web process holds no list of a million ids, and the same code runs on
    SQLite (Django gives it MD5). Why the router's call_id rather than our row id: the
    sample then depends only on the seed, the filters and the calls themselves, so the same
    calls loaded in another order (or into another database) give the same sample. The cost
    is one md5 per candidate row, a top-k sort with no temporary table: about a second for
    half a million candidate calls on a small, busy machine; filters shrink it.
    """
    key = MD5(Concat(Value(f"{seed}:"), "call_id", output_field=CharField()))
    ordered = calls.annotate(sample_key=key).order_by("sample_key", "call_id")
    return list(ordered.values_list("id", flat=True)[:k])


@dataclass
class Shortfall:
    """A side that had fewer matching calls than asked for."""

    variant: Variant
    outcome: str
    found: int

    def sentence(self, hidden: bool) -> str:
        words = f"{OUTCOMES[self.outcome]} calls".strip()
        who = "one of the two variants" if hidden else self.variant.name
        if not self.found:
            return f"No {words} of {who} match these filters."
        return f"Only {self.found} {words} of {who} match; showing {self.found}."


@dataclass
class OtherVote:
    reviewer: str
    choice: str  # in screen terms: left, right, both_good, both_bad
    variant: Variant | None  # the one preferred, if any
    note: str


@dataclass
class Side:
    position: str  # left or right
    letter: str  # what blind mode calls it
    call: Call | None
    tags: list = field(default_factory=list)


@dataclass
class Pair:
    """Pair i: the i-th sampled call of each variant, shown left and right."""

    index: int
    outcome: str
    left: Call | None
    right: Call | None
    my_choice: str = ""
    my_note: str = ""
    others: list[OtherVote] = field(default_factory=list)
    tags: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.left is not None and self.right is not None

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, "").capitalize()

    @property
    def sides(self) -> list[Side]:
        return [
            Side("left", "A", self.left, self.tags.get(getattr(self.left, "pk", None), [])),
            Side("right", "B", self.right, self.tags.get(getattr(self.right, "pk", None), [])),
        ]


@dataclass
class Sample:
    spec: SampleSpec
    variant_a: Variant
    variant_b: Variant
    pairs: list[Pair]
    shortfalls: list[Shortfall]
    threshold: float | None

    @property
    def all_voted(self) -> bool:
        complete = [p for p in self.pairs if p.complete]
        return bool(complete) and all(p.my_choice for p in complete)


def review_sample(experiment: Experiment, spec: SampleSpec) -> Sample:
    """Draw the sample a link describes and lay it out in pairs, stratum by stratum."""
    variants = {v.key: v for v in experiment.variants.all()}
    variant_a, variant_b = variants[spec.a], variants[spec.b]
    drawn, shortfalls = [], []
    for outcome, k in spec.per_stratum:
        sides = []
        for variant in (variant_a, variant_b):
            candidates = sample_candidates(experiment, variant, spec, outcome=outcome)
            ids = sample_ids(candidates, seed=spec.seed, k=k)
            if len(ids) < k:
                shortfalls.append(Shortfall(variant, outcome, len(ids)))
            sides.append(ids)
        drawn.append((outcome, *sides))
    calls = Call.objects.select_related("variant").in_bulk(
        [pk for _, ids_a, ids_b in drawn for pk in ids_a + ids_b]
    )
    # Blind mode shuffles each pair's sides, the same way for everyone who opens the link.
    shuffle = random.Random(f"blind:{spec.seed}")
    pairs = []
    for outcome, ids_a, ids_b in drawn:
        for pk_a, pk_b in zip_longest(ids_a, ids_b):
            call_a, call_b = calls.get(pk_a), calls.get(pk_b)
            flipped = spec.blind and shuffle.random() < 0.5
            left, right = (call_b, call_a) if flipped else (call_a, call_b)
            pairs.append(Pair(len(pairs) + 1, outcome, left, right))
    threshold = long_call_threshold(experiment, spec)
    return Sample(spec, variant_a, variant_b, pairs, shortfalls, threshold)


def screen_choice(vote: PairVote, left: Call) -> str:
    """A stored (canonical) verdict in the terms of the screen: which side was preferred."""
    preferred = vote.preferred_call_id
    if preferred is None:
        return vote.verdict
    return "left" if preferred == left.pk else "right"


def pairs_annotate(experiment: Experiment, pairs: list[Pair], viewer) -> None:
    """Fill each pair with the viewer's vote, the others' votes and the tags on its calls:
    one query for the votes, one for the tags, however many pairs."""
    call_ids = {c.pk for p in pairs for c in (p.left, p.right) if c is not None}
    votes = defaultdict(list)
    for vote in PairVote.objects.filter(
        experiment=experiment, call_a__in=call_ids, call_b__in=call_ids
    ).select_related("reviewer"):
        votes[(vote.call_a_id, vote.call_b_id)].append(vote)
    tags = defaultdict(list)
    for row in (
        CallTag.objects.filter(call__in=call_ids)
        .values("call", "tag")
        .annotate(count=Count("id"), mine=Count("id", filter=Q(author=viewer)))
        .order_by("call", "-count", "tag")
    ):
        tags[row["call"]].append(row)
    for pair in pairs:
        pair.tags = tags
        if pair.complete:
            _pair_votes(pair, votes, viewer)


def _pair_votes(pair: Pair, votes, viewer) -> None:
    a, b, _ = canonical_pair(pair.left, pair.right)
    variants = {c.pk: c.variant for c in (a, b)}
    pair.my_choice, pair.my_note, pair.others = "", "", []
    for vote in votes.get((a.pk, b.pk), []):
        choice = screen_choice(vote, pair.left)
        if vote.reviewer_id == viewer.pk:
            pair.my_choice, pair.my_note = choice, vote.note
        else:
            preferred = variants.get(vote.preferred_call_id)
            pair.others.append(
                OtherVote(vote.reviewer.get_username(), choice, preferred, vote.note)
            )
