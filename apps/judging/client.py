"""One verdict from any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI's
v1 API, vLLM, Ollama, llama.cpp server...), with every way it can go wrong turned into a
typed outcome the caller can act on:

    JudgeAnswer        a verdict ("pass", "fail" or "unknown"), its reasoning, the tokens used
    JudgeRateLimited   429: try again later, no sooner than `retry_after_seconds`
    JudgeUnavailable   5xx, timeout, connection refused or dropped: try again later
    JudgeRefused       401/402/403/404 or no quota left: retrying cannot help, a person must act
    JudgeRejected      another 4xx about this one request (too long...): retrying cannot help
    JudgeBadOutput     an answer that is not JSON of the verdict schema

No Django here: the caller passes the endpoint, the key and the timeout.
"""

import email.utils
import json
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from apps.judging.prompt import RESPONSE_FORMAT

JSON_OBJECT = {"type": "json_object"}
REFUSING = {401, 402, 403, 404}
RETRYABLE_4XX = {408, 409}  # the OpenAI SDKs retry these too
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


class JudgeError(Exception):
    """The judge gave no verdict."""


class JudgeRateLimited(JudgeError):
    def __init__(self, retry_after_seconds: float | None):
        super().__init__(f"rate limited (retry after {retry_after_seconds} s)")
        self.retry_after_seconds = retry_after_seconds


class JudgeUnavailable(JudgeError):
    pass


class JudgeRefused(JudgeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class JudgeRejected(JudgeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class JudgeBadOutput(JudgeError):
    def __init__(self, raw: str):
        super().__init__(f"not a verdict: {raw[:200]!r}")
        self.raw = raw


@dataclass(frozen=True)
class JudgeAnswer:
    verdict: str
    reasoning: str
    # What the answer cost as the endpoint reported it; not part of what the judge said.
    tokens_in: int = field(default=0, compare=False)
    tokens_out: int = field(default=0, compare=False)


class _Verdict(BaseModel):
    model_config = ConfigDict(strict=True)

    verdict: Literal["pass", "fail", "unknown"]
    reasoning: str


def ask_judge(
    *, base_url: str, model: str, messages: list[dict], api_key: str = "", timeout: float = 30.0
) -> JudgeAnswer:
    """POST {base_url}/chat/completions at temperature 0 with the verdict's JSON schema.

    A server that refuses `json_schema` (a 400 naming response_format) is asked once more
    with plain JSON mode; the answer is validated the same way.
    """
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": model, "messages": messages, "temperature": 0}
    with (
        transport_errors(base_url, url, timeout),
        httpx.Client(timeout=timeout, headers=headers) as http,
    ):
        response = http.post(url, json={**body, "response_format": RESPONSE_FORMAT})
        if _refuses_json_schema(response):
            response = http.post(url, json={**body, "response_format": JSON_OBJECT})
    _raise_for_status(response)
    return _parse(response)


@contextmanager
def transport_errors(base_url: str, url: str, timeout: float):
    """What httpx raises while asking `url`, as the error the caller acts on: a bad address
    is refused (retrying cannot help), a timeout or a lost connection is unavailable."""
    try:
        yield
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise JudgeRefused(0, f"“{base_url}” is not an http(s) address ({error})") from error
    except httpx.TimeoutException as error:
        raise JudgeUnavailable(f"no answer within {timeout:g} s") from error
    except httpx.TransportError as error:
        raise JudgeUnavailable(f"could not reach {url}: {error}") from error


def _refuses_json_schema(response: httpx.Response) -> bool:
    if response.status_code not in (400, 422):
        return False
    text = response.text.lower()
    return "response_format" in text or "json_schema" in text


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        error = error.get("message") or error.get("code")
    message = str(error) if error else response.text
    return " ".join(message.split())[:300] or response.reason_phrase


def _error_code(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _error_message(response)
    if status == 429:
        if _error_code(response) == "insufficient_quota":  # OpenAI: out of credit
            raise JudgeRefused(status, message)
        raise JudgeRateLimited(retry_after(response.headers))
    if status in REFUSING:
        raise JudgeRefused(status, message)
    if status >= 500 or status in RETRYABLE_4XX:
        raise JudgeUnavailable(f"{status} {response.reason_phrase}: {message}")
    raise JudgeRejected(status, message)


def retry_after(headers, now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `Retry-After` in seconds or
    as an HTTP date (RFC 9110 §10.2.3). None when it says nothing we can read."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _parse(response: httpx.Response) -> JudgeAnswer:
    try:
        data = response.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeBadOutput(response.text) from None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        # OpenAI's structured outputs put a refusal beside an empty content.
        raise JudgeBadOutput(str(message.get("refusal") if isinstance(message, dict) else message))
    text = content.strip()
    if fenced := _FENCE.match(text):  # some local models wrap JSON mode answers in a fence
        text = fenced.group(1)
    try:
        answer = _Verdict.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        raise JudgeBadOutput(content) from None
    tokens_in, tokens_out = usage(data)
    return JudgeAnswer(answer.verdict, answer.reasoning.strip(), tokens_in, tokens_out)


def usage(data) -> tuple[int, int]:
    """(prompt tokens, completion tokens) from a chat completion's `usage`; 0 for each count
    it does not report in a form we can trust."""
    reported = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(reported, dict):
        return 0, 0
    prompt, completion = reported.get("prompt_tokens"), reported.get("completion_tokens")
    return token_count(prompt), token_count(completion)


def token_count(value) -> int:
    """A token count an endpoint reported; anything else (missing, negative, NaN, huge) is 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if not math.isfinite(value) or not 0 <= value <= 10_000_000:
        return 0
    return int(value)
