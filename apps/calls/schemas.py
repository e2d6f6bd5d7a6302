"""The shape of a call report, validated by pydantic straight from the request's bytes.

Pydantic rather than DRF serializers here: a batch of 1,000 calls with transcripts is validated
in milliseconds, which is what lets ingestion keep up with a busy router fleet.

Every bound here matches what the database can store and what results can use: numbers are
finite (PostgreSQL refuses NaN/Infinity in jsonb, and one Infinity poisoned every aggregate),
durations are 0 to a day (the CHECK constraint on calls_call says the same), times lie between
2000 and a day from now (year 9999 in a far time zone cannot be read back into Python), and no
stored text holds NUL (PostgreSQL refuses it). Strings are checked by a pattern, in pydantic's
compiled core, so a batch of long transcripts costs no Python call per turn.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from django.utils import timezone
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from apps.calls.models import MAX_COST_USD, MAX_COUNT, MAX_LATENCY_MS, MAX_TOKENS
from config.inputs import json_problem

MAX_BATCH = 1000
MAX_DURATION_SECONDS = 86_400  # a day; the call_duration_range constraint says the same
EARLIEST_CALL = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FIELDS_DEPTH = 8
MAX_FIELDS_CHARS = 100_000
MAX_ID = 2**63 - 1  # a PostgreSQL bigint: larger ids cannot even be looked up

# Text without NUL (\x00): PostgreSQL cannot store it. A pattern runs in pydantic's core.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
NO_NUL_TYPE = "string_pattern_mismatch"


def _recent(value: datetime) -> datetime:
    if not EARLIEST_CALL <= value <= timezone.now() + timedelta(days=1):
        raise ValueError("Give a time between 2000-01-01 and one day from now.")
    # Stored as the instant in UTC: JSON allows offsets up to ±23:59, PostgreSQL only ±15:59.
    return value.astimezone(UTC)


def _storable(fields: dict[str, Any]) -> dict[str, Any]:
    problem = json_problem(fields, max_depth=MAX_FIELDS_DEPTH)
    if problem:
        raise ValueError(problem)
    if len(json.dumps(fields)) > MAX_FIELDS_CHARS:
        raise ValueError(f"“fields” is over {MAX_FIELDS_CHARS:,} characters as JSON; send less.")
    return fields


CallTime = Annotated[AwareDatetime, AfterValidator(_recent)]
Fields = Annotated[dict[Text, Any], AfterValidator(_storable)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Count64 = Annotated[int, Field(ge=0, le=MAX_TOKENS)]


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    speaker: Literal["agent", "caller"] = Field(description="Who spoke: agent or caller.")
    text: Text = Field(max_length=50_000, description="What was said.")
    start_seconds: float = Field(
        ge=0, le=MAX_DURATION_SECONDS, description="Seconds from the start of the call."
    )
    latency_ms: float | None = Field(
        None,
        ge=0,
        le=MAX_LATENCY_MS,
        description="Agent turns only: milliseconds from the caller's last word to this turn.",
    )

    @model_validator(mode="after")
    def _latency_is_the_agents(self):
        if self.latency_ms is not None and self.speaker != "agent":
            raise ValueError("latency_ms is for agent turns: how long the agent took to answer.")
        return self


class CallReport(BaseModel):
    """One call. Re-sending a call_id updates that call; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    call_id: Text = Field(min_length=1, max_length=128, description="The router's id for the call.")
    agent: Text = Field(min_length=1, max_length=100, description="The agent's slug.")
    caller: Text | None = Field(
        None, min_length=1, max_length=256, description="The caller's id; required for a new call."
    )
    variant: Id | None = Field(None, description="variant.id from the assignment, if any.")
    experiment: Id | None = Field(None, description="experiment.id from the assignment.")
    started_at: CallTime | None = Field(
        None,
        description="When the call started (ISO 8601 with time zone), between 2000-01-01 and "
        "one day from now; required for a new call.",
    )
    duration_seconds: float | None = Field(
        None, ge=0, le=MAX_DURATION_SECONDS, description="Length of the call, 0 to 86,400."
    )
    converted: bool | None = Field(None, description="Did the call reach its successful outcome?")
    sentiment: float | None = Field(None, ge=-1, le=1, description="Caller sentiment, -1 to 1.")
    transferred: bool | None = Field(None, description="Was the call handed to a person?")
    completed: bool | None = Field(None, description="Did the call finish normally?")
    response_latency_ms: float | None = Field(
        None,
        ge=0,
        le=MAX_LATENCY_MS,
        description="The agent's mean response time in the call, 0 to 600,000 ms.",
    )
    cost_usd: float | None = Field(
        None, ge=0, le=MAX_COST_USD, description="What the call cost, 0 to 10,000 US dollars."
    )
    tokens_in: Count64 | None = Field(None, description="Model input tokens in the call.")
    tokens_out: Count64 | None = Field(None, description="Model output tokens in the call.")
    tool_calls: Count | None = Field(None, description="Tools the agent called, 0 to 10,000.")
    tool_errors: Count | None = Field(
        None, description="Tool calls that failed; at most tool_calls."
    )
    interruptions: Count | None = Field(
        None, description="Times the caller talked over the agent, 0 to 10,000."
    )
    ended_by: Literal["caller", "agent", "transfer", "error"] | None = Field(
        None, description="Who ended the call: caller, agent, transfer or error."
    )
    end_reason: Text | None = Field(
        None, min_length=1, max_length=100, description="Why it ended, e.g. voicemail."
    )
    transcript: list[Turn] | None = Field(None, max_length=5000, description="The conversation.")
    fields: Fields | None = Field(
        None,
        description="Anything else (post-call analysis...); merged into earlier fields. "
        f"Finite numbers, no NUL, at most {MAX_FIELDS_DEPTH} levels deep.",
    )

    @model_validator(mode="after")
    def _errors_within_calls(self):
        if (
            self.tool_errors is not None
            and self.tool_calls is not None
            and self.tool_errors > self.tool_calls
        ):
            raise ValueError(
                f"tool_errors ({self.tool_errors}) is more than tool_calls ({self.tool_calls}); "
                "count failed tool calls among all tool calls."
            )
        return self


Batch = Annotated[list[CallReport], Field(min_length=1, max_length=MAX_BATCH)]
_batch = TypeAdapter(Batch)
_single = TypeAdapter(CallReport)


class ReportErrors(Exception):
    """Some items are not valid: `items` maps an item's index to {field: message}."""

    def __init__(self, message: str, items: dict[int, dict[str, str]] | None = None):
        super().__init__(message)
        self.message, self.items = message, items or {}


def parse_reports(body: bytes) -> tuple[list[CallReport], bool]:
    """(reports, was_a_list) from the raw body, or ReportErrors naming each bad item."""
    is_list = body.lstrip()[:1] == b"["
    try:
        reports = _batch.validate_json(body) if is_list else [_single.validate_json(body)]
    except ValidationError as error:
        raise _explain(error, is_list) from None
    return reports, is_list


def _explain(error: ValidationError, is_list: bool) -> ReportErrors:
    items: dict[int, dict[str, str]] = {}
    for problem in error.errors(include_url=False):
        loc = list(problem["loc"])
        if problem["type"] == "json_invalid":
            if "recursion limit" in problem["msg"]:
                return ReportErrors("The JSON is nested too deeply; send a flatter body.")
            return ReportErrors("The body is not valid JSON.")
        if is_list and (not loc or not isinstance(loc[0], int)):
            return ReportErrors(f"Send one call object or a list of 1 to {MAX_BATCH:,} calls.")
        index = loc.pop(0) if is_list else 0
        field = ".".join(str(part).replace("\x00", "\\u0000") for part in loc) or "call"
        items.setdefault(index, {})[field] = _message(problem)
    count = len(items)
    noun = "call is" if count == 1 else "calls are"
    return ReportErrors(f"{count} {noun} not valid; nothing was saved.", items)


def _message(problem: dict) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field; put extra data under “fields”."
    if kind == "timezone_aware":
        return "Give a time zone, e.g. 2026-11-22T10:00:00Z."
    if kind == NO_NUL_TYPE:
        return "Contains a NUL character (\\u0000); remove it."
    if kind == "finite_number":
        return "Send a finite number (not NaN or Infinity)."
    if kind == "value_error":
        return problem["msg"].removeprefix("Value error, ")
    return problem["msg"]


_turns = TypeAdapter(list[Turn])


def turns_json(turns: list[Turn]) -> str:
    """The transcript as JSON text, serialised once by pydantic's compiled core."""
    return _turns.dump_json(turns, exclude_none=True).decode()
