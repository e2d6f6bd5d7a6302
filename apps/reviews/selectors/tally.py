"""What reviewers prefer, next to the numbers: one GROUP BY over the votes, one over the tags."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from apps.experiments.models import Experiment, Variant
from apps.reviews.models import CallTag, PairVote, Verdict
from apps.reviews.selectors.sampling import leader_key
from apps.stats.proportions import wilson_interval

# One pass over the votes: each vote counts once for each of its two variants, as the
# preferred one when the verdict names its side. Both good / both bad are counted apart.
TALLY_SQL = """
    SELECT variant_id,
           SUM(CASE WHEN verdict = won THEN 1 ELSE 0 END),
           SUM(CASE WHEN verdict IN (%(prefer_a)s, %(prefer_b)s) THEN 1 ELSE 0 END),
           SUM(CASE WHEN verdict = %(good)s THEN 1 ELSE 0 END),
           SUM(CASE WHEN verdict = %(bad)s THEN 1 ELSE 0 END),
           COUNT(*),
           COUNT(DISTINCT reviewer_id)
    FROM (
        SELECT variant_a_id AS variant_id, reviewer_id, verdict, %(prefer_a)s AS won
        FROM {table} WHERE experiment_id = %(experiment)s
        UNION ALL
        SELECT variant_b_id AS variant_id, reviewer_id, verdict, %(prefer_b)s AS won
        FROM {table} WHERE experiment_id = %(experiment)s
    ) sides
    GROUP BY variant_id
"""


@dataclass
class Preference:
    """How often reviewers preferred one variant in the pairs it was part of."""

    variant: Variant
    preferred: int = 0
    decided: int = 0
    both_good: int = 0
    both_bad: int = 0
    votes: int = 0
    voters: int = 0
    tags: list[tuple[str, int]] = field(default_factory=list)
    low: float | None = None
    high: float | None = None

    @property
    def share(self) -> float | None:
        return self.preferred / self.decided if self.decided else None


@dataclass
class Tally:
    experiment: Experiment
    rows: list[Preference]
    votes: int
    voters: int
    leader: Variant | None  # best on the goal metric, from the latest results

    @property
    def top(self) -> Preference | None:
        """The variant reviewers chose most often, among those with decided pairs."""
        decided = [row for row in self.rows if row.decided]
        return max(decided, key=lambda row: (row.share, row.decided), default=None)

    @property
    def sentence(self) -> str:
        """What the votes say, in words a manager can act on."""
        top = self.top
        if top is None:
            return (
                "Reviewers have only said “both good” or “both bad” so far, "
                "so there is no preference yet."
            )
        text = (
            f"Reviewers preferred {top.variant.name} in {top.preferred} of the {top.decided} "
            f"pair{'s' if top.decided != 1 else ''} where they picked one ({top.share:.0%}, "
            f"95% range {top.low:.0%} to {top.high:.0%})."
        )
        if top.low <= 0.5:
            return (
                f"{text} The range includes 50%, so this could still be chance: review more pairs."
            )
        text = f"{text} That is unlikely to be chance."
        if self.leader is None:
            return text
        if self.leader.pk == top.variant.pk:
            return f"{text} The numbers agree: {top.variant.name} also leads on the goal."
        return (
            f"{text} The numbers do not agree: {self.leader.name} leads on the goal. "
            "Read the pairs to see why."
        )


def _preference_counts(experiment: Experiment) -> dict[int, tuple]:
    params = {
        "experiment": experiment.pk,
        "prefer_a": Verdict.PREFER_A.value,
        "prefer_b": Verdict.PREFER_B.value,
        "good": Verdict.BOTH_GOOD.value,
        "bad": Verdict.BOTH_BAD.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(TALLY_SQL.format(table=PairVote._meta.db_table), params)
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _top_tags(experiment: Experiment, per_variant: int = 3) -> dict[int, list[tuple[str, int]]]:
    """The most frequent tags on each variant's calls, ranked in the database."""
    rank = Window(
        RowNumber(),
        partition_by=[F("call__variant")],
        order_by=[F("count").desc(), F("tag").asc()],
    )
    rows = (
        CallTag.objects.filter(call__experiment=experiment)
        .values("call__variant", "tag")
        .annotate(count=Count("id"))
        .annotate(rank=rank)  # a second annotate: Django would otherwise GROUP BY the rank
        .filter(rank__lte=per_variant)
        .order_by("call__variant", "rank")
    )
    top = defaultdict(list)
    for row in rows:
        top[row["call__variant"]].append((row["tag"], row["count"]))
    return top


def preference_tally(experiment: Experiment) -> Tally:
    """What reviewers prefer, per variant: share of decided pairs with its 95% Wilson range,
    both good / both bad, votes, voters and the top tags. Counted by GROUP BY in the database."""
    counts, tags = _preference_counts(experiment), _top_tags(experiment)
    rows = []
    for variant in experiment.variants.all():
        row = Preference(variant, *counts.get(variant.pk, ()), tags=tags.get(variant.pk, []))
        if row.decided:
            row.low, row.high = wilson_interval(row.preferred, row.decided)
        rows.append(row)
    totals = PairVote.objects.filter(experiment=experiment).aggregate(
        votes=Count("id"), voters=Count("reviewer", distinct=True)
    )
    leader = leader_key(experiment, [row.variant.key for row in rows])
    leader_variant = next((r.variant for r in rows if r.variant.key == leader), None)
    return Tally(experiment, rows, totals["votes"], totals["voters"], leader_variant)
