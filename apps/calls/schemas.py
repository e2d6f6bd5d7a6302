"""The shape of a call report, validated by pydantic straight from the request's bytes.

Pydantic rather than DRF serializers here: a batch of 1,000 calls with transcripts is validated
in milliseconds, which is what lets ingestion keep up with a busy router fleet.
"""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_BATCH = 1000


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    speaker: Literal["agent", "caller"] = Field(description="Who spoke: agent or caller.")
    text: str = Field(max_length=50_000, description="What was said.")
    start_seconds: float = Field(ge=0, description="Seconds from the start of the call.")


class CallReport(BaseModel):
    """One call. Re-sending a call_id updates that call; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    call_id: str = Field(min_length=1, max_length=128, description="The router's id for the call.")
    agent: str = Field(min_length=1, max_length=100, description="The agent's slug.")
    caller: str | None = Field(
        None, min_length=1, max_length=256, description="The caller's id; required for a new call."
    )
    variant: int | None = Field(None, description="variant.id from the assignment, if any.")
    experiment: int | None = Field(None, description="experiment.id from the assignment.")
    started_at: AwareDatetime | None = Field(
        None,
        description="When the call started (ISO 8601 with time zone); required for a new call.",
    )
    duration_seconds: float | None = Field(None, ge=0, description="Length of the call.")
    converted: bool | None = Field(None, description="Did the call reach its successful outcome?")
    sentiment: float | None = Field(None, ge=-1, le=1, description="Caller sentiment, -1 to 1.")
    transferred: bool | None = Field(None, description="Was the call handed to a person?")
    completed: bool | None = Field(None, description="Did the call finish normally?")
    transcript: list[Turn] | None = Field(None, max_length=5000, description="The conversation.")
    fields: dict[str, Any] | None = Field(
        None, description="Anything else (post-call analysis...); merged into earlier fields."
    )


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
            return ReportErrors("The body is not valid JSON.")
        if is_list and (not loc or not isinstance(loc[0], int)):
            return ReportErrors(f"Send one call object or a list of 1 to {MAX_BATCH:,} calls.")
        index = loc.pop(0) if is_list else 0
        field = ".".join(str(part) for part in loc) or "call"
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
    return problem["msg"]


_turns = TypeAdapter(list[Turn])


def turns_json(turns: list[Turn]) -> str:
    """The transcript as JSON text, serialised once by pydantic's compiled core."""
    return _turns.dump_json(turns).decode()
