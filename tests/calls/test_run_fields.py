"""How the agent ran, per call (issue 12): latency, cost, tokens, tools, interruptions, who
ended the call and why. Optional, validated, merged like every other outcome, and shown on
the call page."""

import json

import pytest

from apps.calls.models import Call
from tests.calls.test_api import URL, report

pytestmark = pytest.mark.django_db

RUN = {
    "response_latency_ms": 812.5,
    "cost_usd": 0.0731,
    "tokens_in": 5210,
    "tokens_out": 388,
    "tool_calls": 3,
    "tool_errors": 1,
    "interruptions": 2,
    "ended_by": "caller",
    "end_reason": "voicemail",
}


def with_latency(agent, **fields):
    body = report(agent, **fields)
    body["transcript"][0]["latency_ms"] = 640.0
    return body


def test_every_field_is_stored_as_sent(api, router_key, agent):
    response = api.post(URL, with_latency(agent, **RUN), key=router_key)
    assert response.status_code == 200, response.content
    call = Call.objects.get()
    assert {name: getattr(call, name) for name in RUN} == RUN
    assert call.transcript[0]["latency_ms"] == 640.0
    assert "latency_ms" not in call.transcript[1]  # not sent, not stored as null


def test_a_later_report_that_omits_them_keeps_them(api, router_key, agent):
    api.post(URL, report(agent, **RUN), key=router_key)
    later = {"call_id": "call-1", "agent": agent.slug, "converted": False, "tool_errors": 2}
    assert api.post(URL, later, key=router_key).status_code == 200
    call = Call.objects.get()
    assert (call.converted, call.tool_errors, call.tool_calls) == (False, 2, 3)
    assert (call.ended_by, call.end_reason, call.cost_usd) == ("caller", "voicemail", 0.0731)


def test_a_call_without_them_stores_nothing_for_them(api, router_key, agent):
    api.post(URL, report(agent), key=router_key)
    call = Call.objects.get()
    assert (call.response_latency_ms, call.tool_calls, call.ended_by, call.end_reason) == (
        None,
        None,
        "",
        "",
    )


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ({"response_latency_ms": -1}, "response_latency_ms", "greater than or equal to 0"),
        ({"response_latency_ms": 600_001}, "response_latency_ms", "less than or equal"),
        ({"cost_usd": -0.01}, "cost_usd", "greater than or equal to 0"),
        ({"cost_usd": 1e308}, "cost_usd", "less than or equal"),
        ({"tokens_in": 1.5}, "tokens_in", "integer"),
        ({"tokens_out": -3}, "tokens_out", "greater than or equal to 0"),
        ({"tool_calls": True}, "tool_calls", "integer"),
        ({"tool_calls": 10_001}, "tool_calls", "less than or equal"),
        ({"interruptions": "2"}, "interruptions", "integer"),
        ({"tool_calls": 1, "tool_errors": 2}, "call", "tool_errors (2) is more than tool_calls"),
        ({"ended_by": "hangup"}, "ended_by", "'caller', 'agent', 'transfer' or 'error'"),
        ({"end_reason": ""}, "end_reason", "at least 1 character"),
        ({"end_reason": "x" * 101}, "end_reason", "at most 100 characters"),
        ({"end_reason": "voice\u0000mail"}, "end_reason", "NUL"),
    ],
)
def test_bad_values_are_refused_by_name_and_nothing_is_stored(
    api, router_key, agent, fields, where, words
):
    response = api.post(URL, report(agent, **fields), key=router_key)
    assert response.status_code == 400, response.content
    assert words in json.dumps(response.json()["details"]["items"]["0"][where])
    assert Call.objects.count() == 0


def test_a_non_finite_latency_is_refused(api, router_key, agent):
    body = json.dumps(report(agent)).replace('"duration_seconds": 95.5', '"cost_usd": NaN')
    response = api.post(URL, raw=body, key=router_key)
    assert response.status_code == 400 and Call.objects.count() == 0


def test_latency_on_a_caller_turn_is_refused(api, router_key, agent):
    body = report(agent)
    body["transcript"][1]["latency_ms"] = 300
    response = api.post(URL, body, key=router_key)
    assert response.status_code == 400
    assert "agent turns" in response.json()["details"]["items"]["0"]["transcript.1"]
    assert Call.objects.count() == 0


def test_more_errors_than_the_stored_tool_calls_is_refused_and_changes_nothing(
    api, router_key, agent
):
    """One report sets tool_calls, a later one only tool_errors: checked against the stored
    value, answered as a 400 naming the field in words (not the database's check), never a
    500."""
    api.post(URL, report(agent, tool_calls=2, tool_errors=0), key=router_key)
    later = {"call_id": "call-1", "agent": agent.slug, "tool_errors": 5}
    response = api.post(URL, later, key=router_key)
    assert response.status_code == 400, response.content
    message = response.json()["details"]["items"]["0"]["tool_errors"]
    assert message.startswith("tool_errors (5) would be more than tool_calls (2)")
    assert Call.objects.get().tool_errors == 0


def test_the_call_page_shows_how_the_agent_ran_and_who_hung_up(
    api, router_key, agent, client, operator
):
    api.post(URL, with_latency(agent, **RUN), key=router_key)
    client.force_login(operator)
    page = client.get(f"/calls/{Call.objects.get().pk}/").content.decode()
    assert "The caller hung up at 1:35 (voicemail)." in page  # duration 95.5 s
    assert "0.81 s on average" in page and "answered in 0.64 s" in page
    assert "$0.0731" in page and "5,210 in, 388 out" in page
    assert "3 calls, 1 failed" in page
    assert "talked over the agent 2 times" in page
