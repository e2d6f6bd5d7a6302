"""POST /api/v1/assignments against real PostgreSQL and Redis."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import api_key_create, api_key_revoke
from apps.agents.services import agent_prompt_update
from apps.assignments import exposures, table
from apps.assignments.bucketing import bucket, choose, upper_bounds
from apps.assignments.models import Exposure
from apps.experiments.models import Experiment
from apps.experiments.services import (
    experiment_start,
    experiment_stop,
    variant_pause,
    variant_resume,
    weights_set,
)
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db
URL = "/api/v1/assignments"


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def ask(api, key, agent="", caller="+15550100", **extra):
    return api.post(URL, {"agent": agent, "caller": caller, **extra}, key=key)


def test_no_experiment_answers_the_current_prompt(api, router_key, agent):
    response = ask(api, router_key, agent.slug)
    assert response.status_code == 200
    version = agent.current_version
    assert response.json() == {
        "agent": agent.slug,
        "experiment": None,
        "variant": None,
        "prompt": {"version": 1, "sha256": version.sha256, "body": version.body},
        "config": {"model": "gpt-4o-mini"},
    }


def test_running_experiment_assigns_by_hash_of_salt_and_caller(api, router_key, running):
    variants = list(running.variants.order_by("-is_control", "key"))
    for caller in [f"+1555{i:04d}" for i in range(40)]:
        answer = ask(api, router_key, running.agent.slug, caller).json()
        expected = variants[choose(bucket(running.salt, caller), upper_bounds([50, 50]))]
        assert answer["variant"] == {"id": expected.id, "key": expected.key, "name": expected.name}
        assert answer["experiment"] == {"id": running.id, "name": running.name}
        assert answer["prompt"]["sha256"] == expected.prompt_version.sha256


def test_the_same_caller_always_gets_the_same_variant(api, router_key, running):
    answers = {
        ask(api, router_key, running.agent.slug, "+15550199").json()["variant"]["key"]
        for _ in range(20)
    }
    assert len(answers) == 1


def test_both_variants_are_served(api, router_key, running):
    keys = {
        ask(api, router_key, running.agent.slug, f"c{i}").json()["variant"]["key"]
        for i in range(60)
    }
    assert keys == {"control", "b"}


def test_variant_config_overrides_the_agents(api, router_key, agent, operator):
    from apps.experiments.services import experiment_create, variant_fork

    experiment = experiment_create(agent=agent, name="Hot", goal_kind="conversion", user=operator)
    variant_fork(
        experiment=experiment, body="Be warm.", config_overrides={"temperature": 0.9}, user=operator
    )
    weights_set(experiment=experiment, weights={"control": 50, "b": 50}, user=operator)
    experiment_start(experiment=experiment, user=operator)
    weights_set(experiment=experiment, weights={"control": 0, "b": 100}, user=operator)
    answer = ask(api, router_key, agent.slug).json()
    assert answer["variant"]["key"] == "b"
    assert answer["config"] == {"model": "gpt-4o-mini", "temperature": 0.9}


def test_a_paused_variant_is_never_assigned(api, router_key, running, operator):
    weights_set(experiment=running, weights={"control": 100, "b": 0}, user=operator)
    keys = {
        ask(api, router_key, running.agent.slug, f"c{i}").json()["variant"]["key"]
        for i in range(60)
    }
    assert keys == {"control"}


def assigned(api, key, agent, callers) -> dict[str, str]:
    table.refresh()
    return {c: ask(api, key, agent.slug, c).json()["variant"]["key"] for c in callers}


def test_pausing_c_moves_only_cs_callers_and_only_to_the_control(api, router_key, agent, operator):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    experiment_start(experiment=experiment, user=operator)
    callers = [f"+1555{i:07d}" for i in range(2000)]
    before = assigned(api, router_key, agent, callers)
    assert set(before.values()) == {"control", "b", "c"}

    variant_pause(experiment=experiment, variant_key="c", reason="Worse.", user=operator)
    paused = assigned(api, router_key, agent, callers)
    for caller, key in before.items():
        assert paused[caller] == ("control" if key == "c" else key), caller

    variant_resume(experiment=experiment, variant_key="c", user=operator)
    assert assigned(api, router_key, agent, callers) == before


def test_an_experiment_running_without_a_stored_layout_keeps_its_callers(
    api, router_key, agent, operator
):
    """Started before layouts were stored: served as the consecutive ranges it had, and its
    first pause then moves only the paused variant's callers."""
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    experiment_start(experiment=experiment, user=operator)
    Experiment.objects.filter(pk=experiment.pk).update(bucket_layout=[])
    callers = [f"caller-{i}" for i in range(300)]
    variants = list(experiment.variants.order_by("-is_control", "key"))
    bounds = upper_bounds([34, 33, 33])
    before = assigned(api, router_key, agent, callers)
    assert before == {c: variants[choose(bucket(experiment.salt, c), bounds)].key for c in callers}

    variant_pause(experiment=experiment, variant_key="b", reason="Worse.", user=operator)
    paused = assigned(api, router_key, agent, callers)
    assert paused == {c: "control" if k == "b" else k for c, k in before.items()}


def test_per_call_experiments_draw_by_call_id(api, router_key, agent, operator):
    experiment = make_experiment(agent=agent, user=operator, unit="call")
    experiment_start(experiment=experiment, user=operator)
    keys = {
        ask(api, router_key, agent.slug, "+15550100", call_id=f"call-{i}").json()["variant"]["key"]
        for i in range(60)
    }
    assert keys == {"control", "b"}  # one caller, both variants
    missing = ask(api, router_key, agent.slug, "+15550100")
    assert missing.status_code == 400 and "send call_id" in missing.json()["error"]


def test_a_warm_request_makes_no_sql_query_and_no_redis_round_trip(
    api, router_key, running, monkeypatch
):
    import redis.connection

    ask(api, router_key, running.agent.slug)  # warm up: the table is built here
    sent = []
    original = redis.connection.AbstractConnection.send_command
    monkeypatch.setattr(
        redis.connection.AbstractConnection,
        "send_command",
        lambda self, *a, **k: sent.append(a) or original(self, *a, **k),
    )
    with CaptureQueriesContext(connection) as queries:
        for i in range(25):
            assert ask(api, router_key, running.agent.slug, f"+1555{i}").status_code == 200
    assert len(queries) == 0, [q["sql"] for q in queries]
    assert sent == []


def test_exposures_are_counted_in_memory_and_flushed_per_phase(api, router_key, running):
    for i in range(30):
        ask(api, router_key, running.agent.slug, f"caller-{i}")
    assert not Exposure.objects.exists()  # nothing written per request
    assert exposures.flush() == 30
    counts = dict(Exposure.objects.values_list("variant__key", "count"))
    assert sum(counts.values()) == 30 and set(counts) <= {"control", "b"}
    assert set(Exposure.objects.values_list("phase", flat=True)) == {running.weights_version}
    ask(api, router_key, running.agent.slug, "caller-0")
    exposures.flush()
    assert sum(Exposure.objects.values_list("count", flat=True)) == 31


def test_changes_reach_the_table_on_refresh(api, router_key, running, operator):
    agent = running.agent
    assert ask(api, router_key, agent.slug).json()["experiment"] is not None
    experiment_stop(experiment=running, user=operator)
    assert table.refresh() is True
    answer = ask(api, router_key, agent.slug).json()
    assert answer["experiment"] is None and answer["variant"] is None
    assert answer["prompt"]["version"] == running.control.prompt_version.number
    assert table.refresh() is False  # nothing changed since


def test_new_agents_and_prompts_are_served_after_refresh(api, router_key, operator):
    ask(api, router_key, "nobody")
    agent = make_agent(user=operator)
    agent_prompt_update(agent=agent, body="Version two", user=operator)
    table.refresh()
    assert ask(api, router_key, agent.slug).json()["prompt"]["body"] == "Version two"


def test_no_key_is_401(api, agent):
    response = ask(api, None, agent.slug)
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


def test_a_wrong_or_revoked_key_is_401(api, agent):
    key, raw = api_key_create(name="Old router")
    assert ask(api, raw, agent.slug).status_code == 200
    api_key_revoke(key=key)
    table.refresh()
    assert ask(api, raw, agent.slug).status_code == 401
    assert ask(api, "sb_made-up", agent.slug).status_code == 401


def test_a_key_limited_to_other_agents_gets_the_same_404_as_an_unknown_agent(api, agent, operator):
    other = make_agent(user=operator)
    _, raw = api_key_create(name="Other only", agents=[other])
    response = ask(api, raw, agent.slug)
    unknown = ask(api, raw, "no-such-agent")
    assert response.status_code == unknown.status_code == 404
    assert response.json()["error"] == unknown.json()["error"].replace("no-such-agent", agent.slug)
    assert ask(api, raw, other.slug).status_code == 200


def test_an_unknown_agent_is_404(api, router_key):
    response = ask(api, router_key, "no-such-agent")
    assert response.status_code == 404 and "no-such-agent" in response.json()["error"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "Send a JSON object"),
        ('{"caller": "+1"}', "Say which agent"),
        ('{"agent": "AGENT"}', "“caller” is missing or empty"),
        ('{"agent": "AGENT", "caller": "   "}', "“caller” is missing or empty"),
        ('{"agent": "AGENT", "caller": 15550100}', "“caller” is missing or empty"),
        ('{"agent": "AGENT", "caller": "' + "9" * 257 + '"}', "longer than 256"),
        ('{"agent": "AGENT", "caller": "+1", "call_id": 7}', "“call_id” must be a string"),
    ],
)
def test_bad_requests_are_400_with_a_sentence(api, router_key, agent, raw, message):
    response = api.post(URL, raw=raw.replace("AGENT", agent.slug), key=router_key)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_caller_of_exactly_256_characters_is_fine(api, router_key, agent):
    assert ask(api, router_key, agent.slug, "9" * 256).status_code == 200


def test_only_post_is_allowed(client, router_key):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {router_key}").status_code == 405


def test_answers_are_json(api, router_key, agent):
    response = ask(api, router_key, agent.slug)
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["agent"] == agent.slug
