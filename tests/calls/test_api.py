"""POST /api/v1/calls: idempotent, all-or-nothing, clear about what is wrong."""

import pytest

from apps.accounts.services import api_key_create
from apps.calls.models import Call
from apps.experiments.services import experiment_start, experiment_stop
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db
URL = "/api/v1/calls"


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def report(agent, call_id="call-1", **fields):
    return {
        "call_id": call_id,
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_seconds": 95.5,
        "converted": True,
        "sentiment": 0.4,
        "transferred": False,
        "completed": True,
        "transcript": [
            {"speaker": "agent", "text": "Harbor Dental, how can I help?", "start_seconds": 0},
            {"speaker": "caller", "text": "I'd like a cleaning.", "start_seconds": 2.5},
        ],
        "fields": {"booking": "B-17"},
        **fields,
    }


def test_one_call_is_stored(api, router_key, running):
    b = running.variants.get(key="b")
    response = api.post(URL, report(running.agent, variant=b.id), key=router_key)
    assert response.status_code == 200 and response.json() == {"created": 1, "updated": 0}
    call = Call.objects.get()
    assert (call.variant, call.experiment, call.after_stop) == (b, running, False)
    assert (call.duration_seconds, call.converted, call.sentiment) == (95.5, True, 0.4)
    assert call.transcript[1] == {
        "speaker": "caller",
        "text": "I'd like a cleaning.",
        "start_seconds": 2.5,
    }
    assert call.started_at.isoformat() == "2026-11-22T10:00:00+00:00"


def test_a_batch_is_stored(api, router_key, running):
    batch = [report(running.agent, f"call-{i}") for i in range(500)]
    assert api.post(URL, batch, key=router_key).json() == {"created": 500, "updated": 0}
    assert Call.objects.count() == 500


def test_sending_again_never_counts_twice(api, router_key, running):
    batch = [report(running.agent, f"call-{i}") for i in range(5)]
    api.post(URL, batch, key=router_key)
    assert api.post(URL, batch, key=router_key).json() == {"created": 0, "updated": 5}
    assert Call.objects.count() == 5


def test_a_later_report_adds_fields_and_keeps_the_rest(api, router_key, agent):
    api.post(URL, report(agent, converted=None, fields={"a": 1}), key=router_key)
    later = {"call_id": "call-1", "agent": agent.slug, "converted": True, "fields": {"b": 2}}
    assert api.post(URL, later, key=router_key).json() == {"created": 0, "updated": 1}
    call = Call.objects.get()
    assert call.converted is True and call.fields == {"a": 1, "b": 2}
    assert call.caller == "+15550100" and len(call.transcript) == 2 and call.sentiment == 0.4


def test_the_same_call_twice_in_one_batch_is_one_call(api, router_key, agent):
    first = report(agent, converted=False)
    second = {"call_id": "call-1", "agent": agent.slug, "converted": True}
    assert api.post(URL, [first, second], key=router_key).json() == {"created": 1, "updated": 0}
    assert Call.objects.get().converted is True


def test_one_bad_item_refuses_the_whole_batch_and_says_where(api, router_key, agent):
    batch = [report(agent, f"call-{i}") for i in range(5)]
    batch[3]["sentiment"] = 1.5
    batch[4]["transcript"][0]["speaker"] = "robot"
    response = api.post(URL, batch, key=router_key)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "2 calls are not valid; nothing was saved."
    assert set(body["details"]["items"]) == {"3", "4"}
    assert "sentiment" in body["details"]["items"]["3"]
    assert "transcript.0.speaker" in body["details"]["items"]["4"]
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sentiment": -1.01}, "sentiment"),
        ({"duration_seconds": -3}, "duration_seconds"),
        ({"converted": "yes"}, "converted"),
        ({"started_at": "2026-11-22T10:00:00"}, "started_at"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"call_id": ""}, "call_id"),
        ({"caller": "9" * 257}, "caller"),
        ({"mood": "good"}, "mood"),
        (
            {"transcript": [{"speaker": "caller", "text": "hi", "start_seconds": -1}]},
            "transcript.0.start_seconds",
        ),
    ],
)
def test_invalid_fields_are_400_and_write_nothing(api, router_key, agent, change, field):
    response = api.post(URL, report(agent, **change), key=router_key)
    assert response.status_code == 400
    assert field in response.json()["details"]["items"]["0"]
    assert not Call.objects.exists()


def test_a_new_call_needs_caller_and_start_time(api, router_key, agent):
    response = api.post(URL, {"call_id": "x", "agent": agent.slug}, key=router_key)
    items = response.json()["details"]["items"]["0"]
    assert items == {"caller": "Required for a new call.", "started_at": "Required for a new call."}


def test_an_unknown_agent_is_refused(api, router_key, agent):
    response = api.post(URL, [report(agent), {**report(agent), "agent": "ghost"}], key=router_key)
    assert response.status_code == 400
    assert response.json()["details"]["items"]["1"] == {"agent": "There is no agent “ghost”."}
    assert not Call.objects.exists()


def test_a_variant_of_another_experiment_is_refused(api, router_key, running, operator):
    other_agent = make_agent(user=operator)
    other = make_experiment(agent=other_agent, user=operator)
    foreign = other.variants.get(key="b")
    response = api.post(URL, report(running.agent, variant=foreign.id), key=router_key)
    assert response.status_code == 400
    assert "not a variant of" in response.json()["details"]["items"]["0"]["variant"]
    second = make_experiment(agent=running.agent, user=operator, name="Next")
    mine = running.variants.get(key="b")
    response = api.post(
        URL, report(running.agent, variant=mine.id, experiment=second.id), key=router_key
    )
    assert "belongs to another experiment" in response.json()["details"]["items"]["0"]["variant"]
    assert not Call.objects.exists()


def test_a_call_reported_after_stop_is_kept_and_marked(api, router_key, running, operator):
    b = running.variants.get(key="b")
    api.post(URL, report(running.agent, "before", variant=b.id), key=router_key)
    experiment_stop(experiment=running, user=operator)
    api.post(URL, report(running.agent, "after", variant=b.id), key=router_key)
    marks = dict(Call.objects.values_list("call_id", "after_stop"))
    assert marks == {"before": False, "after": True}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{oops", "not valid JSON"),
        ("[]", "list of 1 to 1,000 calls"),
        ("[1, 2]", "2 calls are not valid"),
        ('"a string"', "not valid"),
    ],
)
def test_malformed_bodies_are_400(api, router_key, raw, message):
    response = api.post(URL, raw=raw, key=router_key)
    assert response.status_code == 400 and message in response.json()["error"]


def test_more_than_1000_calls_are_refused(api, router_key, agent):
    batch = [{"call_id": f"c{i}", "agent": agent.slug} for i in range(1001)]
    response = api.post(URL, batch, key=router_key)
    assert response.status_code == 400 and "1,000" in response.json()["error"]


def test_a_body_over_5_mb_is_413(api, router_key, agent):
    huge = report(agent, fields={"blob": "x" * (5 * 1024 * 1024)})
    response = api.post(URL, huge, key=router_key)
    assert response.status_code == 413 and "5 MB" in response.json()["error"]
    assert not Call.objects.exists()


def test_no_key_is_401_and_a_key_for_other_agents_is_refused(api, agent, operator):
    assert api.post(URL, report(agent)).status_code == 401
    other = make_agent(user=operator)
    _, raw = api_key_create(name="Other only", agents=[other])
    response = api.post(URL, report(agent), key=raw)
    assert response.status_code == 400
    assert response.json()["details"]["items"]["0"]["agent"] == f"There is no agent “{agent.slug}”."
    assert not Call.objects.exists()
