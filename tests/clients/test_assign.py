"""Client.assign against the live Switchboard: answers, determinism, and falling back."""

import time

import pytest
from switchboard_client import SwitchboardError

from apps.assignments import table
from apps.assignments.bucketing import bucket, choose, upper_bounds
from apps.experiments.services import experiment_stop

pytestmark = pytest.mark.django_db(transaction=True)


def callers(n, prefix="+1555"):
    return [f"{prefix}{i:04d}" for i in range(n)]


def first_caller_with(client, agent, key):
    """A caller the server puts in the variant `key` (and the client has now seen)."""
    for caller in callers(200):
        if client.assign(agent.slug, caller).variant_key == key:
            return caller
    raise AssertionError(f"no caller landed in {key}")


def test_it_answers_the_current_prompt_when_no_experiment_runs(connect, agent):
    assignment = connect().assign(agent.slug, "+15550100")
    assert (assignment.agent, assignment.experiment, assignment.variant) == (agent.slug, None, None)
    version = agent.current_version
    assert assignment.prompt == {"version": 1, "sha256": version.sha256, "body": version.body}
    assert assignment.config == {"model": "gpt-4o-mini"} and assignment.fallback is False


def test_it_assigns_the_variant_the_server_draws_for_each_caller(connect, running):
    variants = list(running.variants.order_by("-is_control", "key"))
    first, second = connect(), connect()
    for caller in callers(30):
        expected = variants[choose(bucket(running.salt, caller), upper_bounds([50, 50]))]
        answers = [c.assign(running.agent.slug, caller) for c in (first, second, first)]
        assert {a.variant_id for a in answers} == {expected.id}
        assert answers[0].experiment_id == running.id
        assert answers[0].prompt["sha256"] == expected.prompt_version.sha256


def test_a_caller_seen_before_keeps_their_variant_while_switchboard_is_down(connect, door, running):
    client = connect()
    caller = first_caller_with(client, running.agent, "b")
    door.shut()
    assignment = client.assign(running.agent.slug, caller)
    assert assignment.fallback is True
    assert assignment.variant_id == running.variants.get(key="b").id
    assert assignment.experiment_id == running.id


def test_a_new_caller_gets_the_current_prompt_and_no_variant_while_switchboard_is_down(
    connect, door, running
):
    client = connect()
    first_caller_with(client, running.agent, "control")
    first_caller_with(client, running.agent, "b")  # the latest answer is a variant's
    door.shut()
    assignment = client.assign(running.agent.slug, "+19990000")
    assert (assignment.fallback, assignment.experiment, assignment.variant) == (True, None, None)
    assert assignment.prompt["body"] == running.agent.current_version.body


def test_a_slow_or_failing_switchboard_counts_as_down(connect, door, agent):
    client = connect(timeout=0.2)
    client.assign(agent.slug, "+15550100")
    door.delay = 1.0
    began = time.monotonic()
    assert client.assign(agent.slug, "+15550100").fallback is True
    assert time.monotonic() - began < 0.8
    door.delay, door.fail_next = 0.0, 1
    assert client.assign(agent.slug, "+15550177").fallback is True  # a 503
    assert client.assign(agent.slug, "+15550177").fallback is False


def test_a_remembered_variant_is_dropped_once_its_experiment_stopped(
    connect, door, running, operator
):
    client = connect()
    caller = first_caller_with(client, running.agent, "b")
    experiment_stop(experiment=running, user=operator)
    table.refresh()
    assert client.assign(running.agent.slug, "+19990000").experiment is None
    door.shut()
    assignment = client.assign(running.agent.slug, caller)
    assert (assignment.fallback, assignment.variant) == (True, None)


def test_a_refusal_raises_the_servers_sentence_and_never_falls_back(connect, agent):
    client = connect()
    client.assign(agent.slug, "+15550100")
    with pytest.raises(SwitchboardError) as unknown:
        client.assign("no-such-agent", "+15550100")
    assert unknown.value.status == 404
    assert unknown.value.message == "There is no agent “no-such-agent” (or it has no prompt yet)."
    with pytest.raises(SwitchboardError, match="“caller” is missing or empty") as bad_input:
        client.assign(agent.slug, " ")
    assert bad_input.value.status == 400
    with pytest.raises(SwitchboardError, match="API key") as bad_key:
        connect(key="sb_not-a-key").assign(agent.slug, "+15550100")
    assert bad_key.value.status == 401
