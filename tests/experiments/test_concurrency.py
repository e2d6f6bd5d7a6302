"""Two people saving at the same moment, on real PostgreSQL transactions in two threads."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.experiments.models import Status
from apps.experiments.services import (
    experiment_start,
    experiment_stop,
    variant_fork,
    variant_update_prompt,
    weights_set,
    winner_apply,
)
from tests.factories import make_agent, make_experiment, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*jobs):
    """Run each job in its own thread (own database connection) released at the same moment."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            job()
            outcomes[i] = "saved"
        except ValidationError as error:
            outcomes[i] = " ".join(error.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, j)) for i, j in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_operators_saving_weights_at_once_do_not_overwrite_each_other():
    user = make_user("ann", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    seen = experiment.weights_version

    outcomes = run_together(
        lambda: weights_set(
            experiment=experiment,
            weights={"control": 70, "b": 30},
            user=user,
            expected_version=seen,
        ),
        lambda: weights_set(
            experiment=experiment,
            weights={"control": 20, "b": 80},
            user=user,
            expected_version=seen,
        ),
    )

    assert sorted(o == "saved" for o in outcomes) == [False, True]
    refused = next(o for o in outcomes if o != "saved")
    assert "Someone else changed the traffic split" in refused
    experiment.refresh_from_db()
    saved = dict(experiment.variants.values_list("key", "weight"))
    assert saved in ({"control": 70, "b": 30}, {"control": 20, "b": 80})
    assert experiment.weights_version == seen + 1


def test_two_experiments_started_at_once_on_one_agent_only_one_runs():
    user = make_user("ben", role="operator")
    agent = make_agent(user=user)
    first = make_experiment(agent=agent, user=user, name="First")
    second = make_experiment(agent=agent, user=user, name="Second")

    outcomes = run_together(
        lambda: experiment_start(experiment=first, user=user),
        lambda: experiment_start(experiment=second, user=user),
    )

    assert outcomes.count("saved") == 1
    assert agent.experiments.filter(status=Status.RUNNING).count() == 1


ROUNDS = 20  # before the agent lock came first, 3 rounds in 12 let both succeed


def test_start_and_apply_on_one_agent_never_both_succeed():
    user = make_user("cleo", role="manager")
    for round_ in range(ROUNDS):
        agent = make_agent(user=user)
        ran = make_experiment(agent=agent, user=user, name="Ran")
        experiment_start(experiment=ran, user=user)
        experiment_stop(experiment=ran, user=user)
        fresh = make_experiment(agent=agent, user=user, name="Fresh")

        outcomes = run_together(
            lambda ran=ran: winner_apply(
                experiment=ran, variant_key="b", user=user, reason="ship it"
            ),
            lambda fresh=fresh: experiment_start(experiment=fresh, user=user),
        )

        assert outcomes.count("saved") == 1, (round_, outcomes)
        agent.refresh_from_db()
        fresh.refresh_from_db()
        if fresh.status == Status.RUNNING:  # it started first: its control is still current
            control = fresh.variants.get(is_control=True)
            assert control.prompt_version_id == agent.current_version_id
        else:
            assert agent.current_version_id == ran.variants.get(key="b").prompt_version_id


def test_forking_and_editing_variants_at_once_both_save_with_distinct_versions():
    """Both take the agent's lock (a new version number) and the experiment's, in one order:
    neither waits on the other forever and the version numbers never collide."""
    user = make_user("dev", role="operator")
    for _ in range(5):
        agent = make_agent(user=user)
        draft = make_experiment(agent=agent, user=user)
        b = draft.variants.get(key="b")

        outcomes = run_together(
            lambda draft=draft: variant_fork(experiment=draft, user=user, body="Say hi twice."),
            lambda b=b: variant_update_prompt(variant=b, body="Say hello.", user=user),
        )

        assert outcomes == ["saved", "saved"]
        numbers = list(agent.versions.values_list("number", flat=True))
        assert len(numbers) == len(set(numbers))
