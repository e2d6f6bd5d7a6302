"""The experiments list says where each experiment stands: status, days running, progress to
plan, the leading variant, its change on the goal's own scale and its verdict badge."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.experiments import selectors
from apps.experiments.models import Experiment, ResultSnapshot
from apps.experiments.services import experiment_start, experiment_stop, winner_apply
from apps.results.services import results_compute
from tests.factories import make_agent, make_experiment
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def snapshot(experiment, *, lifts, best=None, progress=0.45, direction="higher", **kw):
    """A stored snapshot with a variant row per key of `lifts` ({key: (absolute, verdict)})."""
    names = {v.key: v.name for v in experiment.variants.all()}
    rows = [{"key": "control", "name": names["control"], "is_control": True, "lift": None}]
    rows += [
        {
            "key": key,
            "name": names[key],
            "is_control": False,
            "lift": None if absolute is None else {"absolute": absolute, "relative": None},
            "verdict": {"code": code, "sentence": "…"},
        }
        for key, (absolute, code) in lifts.items()
    ]
    data = {
        "goal": experiment.goal_kind,
        "direction": direction,
        "plan": {"progress": progress},
        "best": best,
        "variants": rows,
    }
    return ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=kw.get("at", timezone.now()),
        frozen=kw.get("frozen", False),
        verdict_code=kw.get("code", "no_difference_yet"),
        verdict_sentence="…",
        data=data,
    )


def started(experiment, user, days_ago):
    experiment_start(experiment=experiment, user=user)
    Experiment.objects.filter(pk=experiment.pk).update(
        started_at=timezone.now() - timedelta(days=days_ago, hours=1)
    )
    experiment.refresh_from_db()
    return experiment


def row_of(text, name):
    return re.search(rf"<tr>\s*<td><a [^>]*>{re.escape(name)}</a>(.*?)</tr>", text, re.S).group(1)


def standing_of(experiment):
    rows = selectors.experiments_with_standing(selectors.experiments_for_list())
    return next(e.standing for e in rows if e.pk == experiment.pk)


def test_the_leader_is_the_best_change_in_the_goals_direction(agent, operator):
    experiment = started(
        make_experiment(agent=agent, user=operator, weights=(34, 33, 33)), operator, 3
    )
    snapshot(experiment, lifts={"b": (0.021, "no_difference_yet"), "c": (-0.04, "losing")})
    standing = standing_of(experiment)
    assert (standing.leader, standing.change, standing.verdict) == (
        "Variant B",
        "+2.1 points",
        "no_difference_yet",
    )
    assert standing.days == 3 and standing.progress == pytest.approx(0.45)


def test_shorter_is_better_when_the_goal_says_so(agent, operator):
    experiment = make_experiment(
        agent=agent,
        user=operator,
        weights=(34, 33, 33),
        goal_kind="duration",
        goal_direction="lower",
    )
    started(experiment, operator, 1)
    snapshot(
        experiment,
        direction="lower",
        lifts={"b": (12.4, "losing"), "c": (-20.0, "winning")},
    )
    assert (standing_of(experiment).leader, standing_of(experiment).change) == (
        "Variant C",
        "-20 seconds",
    )


def test_the_snapshots_best_wins_and_the_frozen_snapshot_counts_after_a_stop(agent, operator):
    experiment = started(
        make_experiment(agent=agent, user=operator, weights=(34, 33, 33)), operator, 9
    )
    snapshot(
        experiment,
        best="c",
        lifts={"b": (0.05, "inconclusive"), "c": (0.03, "winning")},
        frozen=True,
    )
    # A later snapshot that is not the frozen one must not be what the list reads.
    snapshot(
        experiment,
        lifts={"b": (0.09, "winning"), "c": (0.0, "losing")},
        at=timezone.now() + timedelta(minutes=1),
    )
    experiment_stop(experiment=experiment, user=operator)
    standing = standing_of(experiment)
    assert (standing.leader, standing.change, standing.verdict) == (
        "Variant C",
        "+3 points",
        "winning",
    )


def test_the_page_shows_each_part_in_words(client, viewer, agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator, 13)
    snapshot(experiment, lifts={"b": (0.021, "winning")}, progress=0.5)
    draft = make_experiment(agent=make_agent(user=operator), user=operator, name="Shorter calls")
    client.force_login(viewer)
    text = client.get(reverse("experiments:list")).text
    row = row_of(text, "Warmer greeting")
    assert '<span class="badge running">Running</span>' in row and "Day 14" in row
    assert "50% of plan" in row and 'aria-valuenow="50"' in row
    assert "Variant B <strong>+2.1 points</strong>" in row
    assert '<span class="badge verdict-winning">Winning</span>' in row
    drafted = row_of(text, draft.name)
    assert "Not started" in drafted and "verdict-" not in drafted


def test_a_running_experiment_without_calls_says_so(client, viewer, experiment, operator):
    started(experiment, operator, 0)
    client.force_login(viewer)
    row = row_of(client.get(reverse("experiments:list")).text, experiment.name)
    assert "Day 1" in row and "No results yet" in row


def test_it_reads_a_snapshot_the_results_engine_wrote(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator, 2)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=300)
    stored = results_compute(experiment=experiment)
    row = next(v for v in stored.data["variants"] if v["key"] == "b")
    standing = standing_of(experiment)
    assert standing.leader == "Variant B" and standing.change.startswith("+")
    assert standing.verdict == row["verdict"]["code"]
    assert standing.progress == pytest.approx(stored.data["plan"]["progress"])


def test_the_list_costs_the_same_queries_for_many_experiments(
    client, viewer, operator, django_assert_max_num_queries
):
    for n in range(8):
        experiment = make_experiment(agent=make_agent(user=operator), user=operator)
        if n % 2:
            started(experiment, operator, n)
            snapshot(experiment, lifts={"b": (0.01 * n, "no_difference_yet")})
    client.force_login(viewer)
    # session, user, groups, permissions (two), the experiments, their snapshots: none per row
    with django_assert_max_num_queries(7) as captured:
        response = client.get(reverse("experiments:list"))
    assert response.text.count("of plan") == 4
    assert sum("result_snapshot" in q["sql"] for q in captured.captured_queries) <= 2


def test_the_filters_still_apply(client, viewer, experiment, operator):
    make_experiment(agent=make_agent(user=operator), user=operator, name="Shorter calls")
    client.force_login(viewer)
    text = client.get(reverse("experiments:list"), {"q": "shorter"}).text
    assert "Shorter calls" in text and "Warmer greeting" not in text


def test_a_snapshot_from_before_absolute_changes_gives_the_difference_of_means(agent, operator):
    experiment = started(make_experiment(agent=agent, user=operator), operator, 5)
    ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        verdict_code="winning",
        verdict_sentence="…",
        data={
            "goal": "conversion",
            "plan": {"progress": 1.0},
            "best": "b",
            "variants": [
                {"key": "control", "name": "Control", "is_control": True, "mean": 0.2},
                {
                    "key": "b",
                    "name": "Variant B",
                    "mean": 0.25,
                    "lift": {"relative": 0.25, "ci_low": 0.1, "ci_high": 0.4, "ok": True},
                    "verdict": {"code": "winning"},
                },
            ],
        },
    )
    standing = standing_of(experiment)
    assert (standing.leader, standing.change, standing.verdict) == (
        "Variant B",
        "+5 points",
        "winning",
    )
    assert standing.progress == 1.0


def test_an_applied_experiment_names_the_variant_that_was_applied(
    client, viewer, agent, operator, manager
):
    experiment = started(make_experiment(agent=agent, user=operator), operator, 4)
    experiment_stop(experiment=experiment, user=operator)
    winner_apply(experiment=experiment, variant_key="b", user=manager, reason="Reads warmer")
    client.force_login(viewer)
    row = row_of(client.get(reverse("experiments:list")).text, experiment.name)
    assert '<span class="badge applied">Applied</span>' in row
    assert "Ran 4 days · Variant B applied" in row


def test_a_stopped_experiments_badge_speaks_of_when_it_stopped(client, viewer, agent, operator):
    """ "Not yet" promised a verdict that is no longer coming once the test stopped."""
    experiment = started(make_experiment(agent=agent, user=operator), operator, 5)
    snapshot(experiment, lifts={"b": (0.01, "no_difference_yet")}, frozen=True)
    experiment_stop(experiment=experiment, user=operator)
    client.force_login(viewer)
    row = row_of(client.get(reverse("experiments:list")).text, "Warmer greeting")
    assert '<span class="badge verdict-no_difference_yet">Unclear when stopped</span>' in row
    assert ">Not yet<" not in row
