"""The judge's client against a real chat-completions server on localhost."""

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from apps.judging.client import (
    JudgeAnswer,
    JudgeBadOutput,
    JudgeRateLimited,
    JudgeRefused,
    JudgeRejected,
    JudgeUnavailable,
    ask_judge,
    retry_after,
)
from apps.judging.prompt import JUDGE_PROMPT_VERSION, RESPONSE_FORMAT, judge_messages
from tests.judging.chat_server import ChatServer
from tests.judging.helpers import CRITERION, TRANSCRIPT


@pytest.fixture
def server():
    with ChatServer() as server:
        yield server


def ask(server, **kwargs):
    options = {
        "base_url": server.url,
        "model": "judge-1",
        "messages": judge_messages(CRITERION, TRANSCRIPT),
        "api_key": "sk-test",
        "timeout": 5.0,
        **kwargs,
    }
    return ask_judge(**options)


# The prompt


def test_the_prompt_holds_the_criterion_and_the_transcript_as_lines():
    system, user = judge_messages(CRITERION, TRANSCRIPT)
    assert system["role"] == "system" and user["role"] == "user"
    assert '"verdict": "pass" | "fail" | "unknown"' in system["content"]
    assert "does not let you tell" in system["content"]
    assert CRITERION in user["content"]
    assert (
        "Agent: Harbor Homes, how can I help?\n"
        "Caller: I'm looking for a flat near the harbour.\n"
        "Agent: Lovely. What budget do you have in mind?\n"
        "Caller: About 300k, moving in spring."
    ) in user["content"]
    assert JUDGE_PROMPT_VERSION == 1


def test_the_prompt_keeps_each_turn_on_one_line_and_skips_empty_turns():
    turns = [
        {"speaker": "caller", "text": "Hello,\n\nanyone   there?"},
        {"speaker": "agent", "text": "  "},
    ]
    user = judge_messages("Polite.", turns)[1]["content"]
    assert "Caller: Hello, anyone there?\n</transcript>" in user
    assert "Agent:" not in user


def test_the_response_format_is_a_strict_json_schema_of_the_verdict():
    schema = RESPONSE_FORMAT["json_schema"]
    assert RESPONSE_FORMAT["type"] == "json_schema"
    assert schema["name"] == "verdict" and schema["strict"] is True
    assert schema["schema"]["properties"]["verdict"]["enum"] == ["pass", "fail", "unknown"]
    assert set(schema["schema"]["required"]) == {"verdict", "reasoning"}
    assert schema["schema"]["additionalProperties"] is False


# Answers


@pytest.mark.parametrize("verdict", ["pass", "fail", "unknown"])
def test_it_returns_the_verdict_and_its_reasoning(server, verdict):
    server.answer(verdict, "  The agent asked for the budget.  ")
    assert ask(server) == JudgeAnswer(verdict, "The agent asked for the budget.")


def test_it_posts_the_model_messages_temperature_0_and_the_schema(server):
    messages = judge_messages(CRITERION, TRANSCRIPT)
    ask(server, messages=messages)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "model": "judge-1",
        "messages": messages,
        "temperature": 0,
        "response_format": RESPONSE_FORMAT,
    }
    assert CRITERION in request.prompt and "Caller: About 300k, moving in spring." in request.prompt


def test_it_sends_no_authorization_without_a_key(server):
    ask(server, api_key="", base_url=server.url + "/")
    assert "authorization" not in server.requests[0].headers
    assert server.requests[0].path == "/v1/chat/completions"


def test_it_falls_back_to_json_mode_when_the_server_lacks_json_schema(server):
    server.json_schema_supported = False
    server.answer("fail", "No budget asked.")
    assert ask(server) == JudgeAnswer("fail", "No budget asked.")
    assert [r.response_format for r in server.requests] == ["json_schema", "json_object"]
    assert server.requests[1].body["temperature"] == 0


def test_it_accepts_json_wrapped_in_a_code_fence(server):
    server.content('```json\n{"reasoning": "Asked.", "verdict": "pass"}\n```')
    assert ask(server) == JudgeAnswer("pass", "Asked.")


# Bad output


@pytest.mark.parametrize(
    "content",
    [
        "The call passes.",  # not JSON
        '{"verdict": "pass", "reasoning": "cut off',  # truncated JSON
        '{"verdict": "pass"}',  # no reasoning
        '{"reasoning": "Asked."}',  # no verdict
        '{"verdict": "maybe", "reasoning": "Hard to say."}',  # not one of the three
        '{"verdict": "pass", "reasoning": 42}',  # reasoning not a string
        '["pass", "Asked."]',  # not an object
        None,  # no content at all (a refusal)
    ],
)
def test_content_that_is_not_a_verdict_is_bad_output(server, content):
    server.content(content)
    with pytest.raises(JudgeBadOutput) as raised:
        ask(server)
    assert raised.value.raw == (content if content is not None else "None")


def test_a_body_that_is_not_a_completion_is_bad_output(server):
    server.raw(200, b"<html>Welcome to the captive portal</html>")
    with pytest.raises(JudgeBadOutput, match="captive portal"):
        ask(server)


# Rate limits, refusals, outages


def test_429_raises_rate_limited_with_the_retry_after_seconds(server):
    server.error(429, "Rate limit reached", headers={"Retry-After": "7"})
    with pytest.raises(JudgeRateLimited) as raised:
        ask(server)
    assert raised.value.retry_after_seconds == 7.0


def test_429_reads_a_retry_after_date(server):
    later = datetime.now(UTC) + timedelta(seconds=30)
    server.error(429, headers={"Retry-After": format_datetime(later, usegmt=True)})
    with pytest.raises(JudgeRateLimited) as raised:
        ask(server)
    assert 27 <= raised.value.retry_after_seconds <= 30


def test_429_without_retry_after_leaves_the_wait_to_the_caller(server):
    server.error(429)
    with pytest.raises(JudgeRateLimited) as raised:
        ask(server)
    assert raised.value.retry_after_seconds is None


def test_429_for_an_exhausted_quota_is_a_refusal(server):
    server.error(429, "You exceeded your current quota.", code="insufficient_quota")
    with pytest.raises(JudgeRefused) as raised:
        ask(server)
    assert raised.value.status == 429 and "quota" in raised.value.message


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "Incorrect API key provided: sk-test."),
        (402, "Payment required."),
        (403, "Project does not have access to model judge-1."),
        (404, "The model `judge-1` does not exist."),
    ],
)
def test_refusals_raise_refused_with_status_and_message(server, status, message):
    server.error(status, message)
    with pytest.raises(JudgeRefused) as raised:
        ask(server)
    assert (raised.value.status, raised.value.message) == (status, message)
    assert len(server.requests) == 1


def test_a_wrong_path_is_a_refusal(server):
    with pytest.raises(JudgeRefused) as raised:
        ask(server, base_url=server.url.removesuffix("/v1"))
    assert raised.value.status == 404


def test_another_400_rejects_this_request_only(server):
    server.error(400, "This model's maximum context length is 8192 tokens.")
    with pytest.raises(JudgeRejected) as raised:
        ask(server)
    assert raised.value.status == 400 and "context length" in raised.value.message
    assert len(server.requests) == 1  # not mistaken for a response_format problem


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(server, status):
    server.error(status, "The server had an error.")
    with pytest.raises(JudgeUnavailable, match=str(status)):
        ask(server)


def test_a_slow_answer_is_unavailable_after_the_timeout(server):
    server.slow(5.0)
    started = time.monotonic()
    with pytest.raises(JudgeUnavailable, match=r"no answer within 0\.3 s"):
        ask(server, timeout=0.3)
    assert time.monotonic() - started < 2


def test_a_closed_port_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket closes
    with pytest.raises(JudgeUnavailable, match="could not reach"):
        ask_judge(base_url=f"http://127.0.0.1:{port}/v1", model="m", messages=[], timeout=2)


def test_an_address_that_is_not_http_is_a_refusal():
    with pytest.raises(JudgeRefused) as raised:
        ask_judge(base_url="ftp://judge.example/v1", model="m", messages=[])
    assert raised.value.status == 0


# Retry-After


def test_retry_after_reads_seconds_milliseconds_and_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after(httpx.Headers({"Retry-After": "12"}), now) == 12.0
    assert retry_after(httpx.Headers({"retry-after-ms": "1500", "Retry-After": "2"}), now) == 1.5
    date = "Thu, 01 Jan 2026 12:00:45 GMT"
    assert retry_after(httpx.Headers({"Retry-After": date}), now) == 45.0
    assert retry_after(httpx.Headers({"Retry-After": "Thu, 01 Jan 2026 11:00:00 GMT"}), now) == 0
    assert retry_after(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert retry_after(httpx.Headers({}), now) is None


def test_the_recorded_body_is_the_json_sent(server):
    ask(server, model="llama3.1:8b")
    assert json.loads(json.dumps(server.requests[0].body))["model"] == "llama3.1:8b"
