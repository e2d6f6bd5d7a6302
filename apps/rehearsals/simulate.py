"""One simulated phone conversation between the agent under test and a simulated caller.

The agent side is the prompt under test as the system message, the conversation so far as
the chat (the agent's turns as "assistant", the caller's as "user"), on any OpenAI-compatible
chat-completions endpoint, with the model and temperature of the configuration under test.
The caller side is either the replayed turns of a real call, played verbatim whatever the
agent says, or a second model prompted with the persona, goal and facts that ends the call
by writing END_MARKER. The agent speaks first (it answers the phone); `max_turns` counts
both sides' turns.

Every way the endpoint can fail is one of apps.judging.client's errors (JudgeUnavailable for
a timeout, JudgeBadOutput for a reply that is not a chat completion...). A rate limit or an
unavailable endpoint is tried again (`retrying`, which the judge checks use too); what still
fails is raised as SimulationFailed with the transcript so far: the caller records an *error*
for that conversation, never a fail. No Django here: the caller passes endpoints, timeouts
and how often to try.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from apps.judging.client import (
    JudgeBadOutput,
    JudgeError,
    JudgeRateLimited,
    JudgeUnavailable,
    _raise_for_status,
    transport_errors,
    usage,
)

CALLER_PROMPT_VERSION = 1  # bump when CALLER_SYSTEM changes: cached conversations then expire
END_MARKER = "[END CALL]"
MAX_REPLY_CHARS = 4000
CALLER_SYSTEM = """\
You are playing a person who phoned a business and is talking to its AI phone agent. \
Stay in character; say only what this caller would say aloud, one short turn at a time.

Who you are: {persona}
What you want from this call: {goal}
What you know, and give when asked: {facts}

When your goal is met, or the agent cannot help, say goodbye and end your turn with \
{marker}."""


BACKOFF_SECONDS, BACKOFF_CAP_SECONDS, JITTER = 0.5, 8.0, 0.25
sleep = time.sleep  # tests replace it, to count the waits instead of waiting


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 30.0
    temperature: float | None = None
    attempts: int = 1  # tries per request, the first included
    retry_seconds: float = 0.0  # no try starts this long after the first one did


@dataclass(frozen=True)
class Caller:
    persona: str
    goal: str
    facts: dict[str, str]
    replay_turns: tuple[str, ...] = ()


@dataclass
class Transcript:
    turns: list[dict] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    ended_by: str = "turn limit"


class SimulationFailed(Exception):
    """The conversation could not be played to its end: `cause` is the endpoint's error."""

    def __init__(self, cause: JudgeError, transcript: Transcript):
        super().__init__(str(cause))
        self.cause, self.transcript = cause, transcript


def converse(
    *, agent: Endpoint, system_prompt: str, caller: Caller, caller_side: Endpoint, max_turns: int
) -> Transcript:
    """Play one conversation to its end: the caller's END_MARKER, the end of the replayed
    turns, or max_turns turns. Raises SimulationFailed on any endpoint error."""
    transcript = Transcript()
    replay = list(caller.replay_turns)
    try:
        with httpx.Client() as http:  # one connection pool (and TLS setup) per conversation
            _play(http, agent, system_prompt, caller, caller_side, max_turns, transcript, replay)
    except JudgeError as error:
        raise SimulationFailed(error, transcript) from error
    return transcript


def _play(http, agent, system_prompt, caller, caller_side, max_turns, transcript, replay):
    while len(transcript.turns) < max_turns:
        _say(transcript, "agent", _agent_reply(http, agent, system_prompt, transcript))
        if len(transcript.turns) >= max_turns:
            return
        text, ended = _caller_turn(http, caller, caller_side, replay, transcript)
        if text:
            _say(transcript, "caller", text)
        if ended:
            transcript.ended_by = "caller"
            return


def _say(transcript: Transcript, speaker: str, text: str) -> None:
    transcript.turns.append({"speaker": speaker, "text": text})


def _agent_reply(
    http: httpx.Client, agent: Endpoint, system_prompt: str, transcript: Transcript
) -> str:
    roles = {"agent": "assistant", "caller": "user"}
    messages = [{"role": "system", "content": system_prompt}, *_history(transcript, roles)]
    if len(messages) == 1:  # the call has just been answered
        messages.append({"role": "user", "content": "(The phone rings; you answer it.)"})
    return chat(http, agent, messages, transcript)


def _caller_turn(http, caller, endpoint, replay, transcript) -> tuple[str, bool]:
    if caller.replay_turns:
        # The agent answers the last replayed turn too (a caller's "March 3, please." is
        # confirmed by the agent); the call ends when the agent has nothing left to answer.
        return (replay.pop(0), False) if replay else ("", True)
    system = CALLER_SYSTEM.format(
        persona=caller.persona,
        goal=caller.goal,
        facts="; ".join(f"{k}: {v}" for k, v in caller.facts.items()) or "nothing in particular",
        marker=END_MARKER,
    )
    roles = {"agent": "user", "caller": "assistant"}
    messages = [{"role": "system", "content": system}, *_history(transcript, roles)]
    text = chat(http, endpoint, messages, transcript)
    ended = END_MARKER in text
    return " ".join(text.replace(END_MARKER, " ").split()), ended


def _history(transcript: Transcript, roles: dict[str, str]) -> list[dict]:
    return [{"role": roles[t["speaker"]], "content": t["text"]} for t in transcript.turns]


def chat(
    http: httpx.Client, endpoint: Endpoint, messages: list[dict], transcript: Transcript
) -> str:
    """One chat completion's text, tried again as `retrying` says; its token counts are
    added to the transcript's."""
    url = endpoint.base_url.rstrip("/") + "/chat/completions"
    body = {"model": endpoint.model, "messages": messages}
    if endpoint.temperature is not None:
        body["temperature"] = endpoint.temperature
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}

    def send(timeout: float) -> httpx.Response:
        with transport_errors(endpoint.base_url, url, timeout):
            response = http.post(url, json=body, headers=headers, timeout=timeout)
        _raise_for_status(response)
        return response

    text, tokens_in, tokens_out = _parse(retrying(send, endpoint))
    transcript.tokens_in += tokens_in
    transcript.tokens_out += tokens_out
    return text


def retrying[T](send: Callable[[float], T], endpoint: Endpoint) -> T:
    """`send(timeout)`'s answer, asked again after a rate limit (429) or an unavailable
    endpoint (5xx, timeout, connection refused or dropped) at most `endpoint.attempts` times
    in all. Anything else (a refusal, a rejected request, a reply we cannot read) is raised
    at once: asking again cannot help.

    Between tries it sleeps `backoff(...)`. No try starts past `endpoint.retry_seconds`
    after the first one did, the tries' own time included, and a retry's timeout is cut to
    what is left; so when the server asks for a wait longer than what is left (a Retry-After
    of an hour) the error is raised at once, without waiting. The first try always gets the
    whole `endpoint.timeout`.
    """
    deadline = time.monotonic() + endpoint.retry_seconds
    timeout = endpoint.timeout
    for attempt in range(1, endpoint.attempts + 1):
        try:
            return send(timeout)
        except (JudgeRateLimited, JudgeUnavailable) as error:
            wait = backoff(attempt, getattr(error, "retry_after_seconds", None))
            if attempt >= endpoint.attempts or time.monotonic() + wait >= deadline:
                raise
            sleep(wait)
            timeout = max(0.001, min(endpoint.timeout, deadline - time.monotonic()))
    raise ValueError("endpoint.attempts must be at least 1")


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait after failed try number `attempt` (from 1): exponential backoff,
    BACKOFF_SECONDS doubling with each try up to BACKOFF_CAP_SECONDS, or the server's
    Retry-After when it asks for longer; then stretched by up to JITTER (a quarter) at
    random, so conversations rate-limited together do not all come back at the same moment.
    Never shorter than what the server asked for."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2 ** (attempt - 1))
    return max(base, retry_after or 0.0) * (1 + JITTER * random.random())


def _parse(response: httpx.Response) -> tuple[str, int, int]:
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeBadOutput(response.text) from None
    if not isinstance(content, str) or not content.strip() or "\x00" in content:
        raise JudgeBadOutput(repr(content))
    return (" ".join(content.split())[:MAX_REPLY_CHARS], *usage(data))
