"""Storing a checked batch of calls: one upsert by (agent, call_id) that concurrent batches
cannot make fail.

Each call arrives staged: what its reports in the batch said, merged, and None for whatever
they omitted. Against the stored call the rule is the one `services._merge` applies within a
batch: a field the reports carry replaces, one they omit keeps its stored value, `fields` is
merged key by key, the transcript replaces only when sent, and `after_stop` is decided when
the call is first stored and never changed.

On PostgreSQL the batch is copied into a temporary table (COPY: no INSERT text to build and
parse, which was most of ingestion's cost, see docs/benchmarks.md), then goes into the calls
table in one `INSERT … SELECT … ON CONFLICT (agent_id, call_id) DO UPDATE`. Two batches
carrying the same new call no longer race to a unique violation: the second waits for the
first to commit and then updates the row. Every batch takes its row locks in (agent_id,
call_id) order, so overlapping batches queue behind each other and cannot deadlock. Whether
a row was inserted or updated is what the statement itself did, so a call another batch
stored between our first read and our write counts as updated for us, never as created.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection
from django.utils import timezone

from apps.calls.models import Call

# What a router reports about how a call went: each one's type in the staging table. A text
# left unreported is stored empty (NOT NULL ''), a number or yes/no as NULL.
OUTCOME_TYPES = {
    "duration_seconds": "double precision",
    "converted": "boolean",
    "sentiment": "double precision",
    "transferred": "boolean",
    "completed": "boolean",
    "response_latency_ms": "double precision",
    "cost_usd": "double precision",
    "tokens_in": "bigint",
    "tokens_out": "bigint",
    "tool_calls": "integer",
    "tool_errors": "integer",
    "interruptions": "integer",
    "ended_by": "varchar(8)",
    "end_reason": "varchar(100)",
}
TEXTS = ("ended_by", "end_reason")
OUTCOMES = tuple(OUTCOME_TYPES)
# What a report may set on a stored call, transcript and fields apart.
REPLACED = ("experiment_id", "variant_id", "caller", "started_at", *OUTCOMES)


@dataclass(slots=True)
class StagedCall:
    """A call as its reports in this batch describe it; None is "not reported". A plain
    slotted record: a Django model instance per call cost a sixth of ingestion's CPU."""

    agent_id: int
    call_id: str
    experiment_id: int | None = None
    variant_id: int | None = None
    caller: str | None = None
    started_at: datetime | None = None
    duration_seconds: float | None = None
    converted: bool | None = None
    sentiment: float | None = None
    transferred: bool | None = None
    completed: bool | None = None
    response_latency_ms: float | None = None
    cost_usd: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tool_calls: int | None = None
    tool_errors: int | None = None
    interruptions: int | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    transcript_json: str | None = None  # serialised once, written as is
    fields: dict = field(default_factory=dict)
    after_stop: bool = False  # used only if the call is new


def calls_upsert(calls: list[StagedCall]) -> tuple[int, int]:
    """Store staged calls; returns (created, updated) as the database decided them."""
    if connection.vendor == "postgresql":
        return _upsert_postgresql(calls)
    return _upsert_orm(calls)


STAGING_COLUMNS = (
    *("agent_id", "call_id", "experiment_id", "variant_id", "caller", "started_at"),
    *OUTCOMES,
    *("transcript", "fields", "after_stop"),
)

# Kept for the connection's life and emptied at each commit: creating a table per batch
# would write the system catalogs ten times a second. The DELETE empties it when an outer
# transaction (a test's, or a caller's atomic block) holds an earlier batch's rows.
_OUTCOME_COLUMNS = "\n".join(f"    {name} {kind}," for name, kind in OUTCOME_TYPES.items())
STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS call_reports (
    agent_id bigint NOT NULL,
    call_id varchar(128) NOT NULL,
    experiment_id bigint,
    variant_id bigint,
    caller varchar(256),
    started_at timestamp with time zone,
{_OUTCOME_COLUMNS}
    transcript jsonb,
    fields jsonb NOT NULL,
    after_stop boolean NOT NULL,
    PRIMARY KEY (agent_id, call_id)
) ON COMMIT DELETE ROWS;
DELETE FROM call_reports
"""


def _inserted(name: str) -> str:
    return f"COALESCE({name}, '')" if name in TEXTS else name


_KEPT = ("experiment_id", "variant_id", "caller", "started_at", *OUTCOMES)

# PostgreSQL checks NOT NULL before it looks for a conflict, so a report that omits caller,
# started_at or the transcript proposes a placeholder for the insert; the update reads the
# staged row itself, where NULL still means "not reported". A placeholder is never stored: a
# call is staged without caller or started_at only if it existed when the batch was checked,
# and if it has gone since, the last count refuses the batch (see _upsert_postgresql).
UPSERT = f"""
WITH upserted AS (
    INSERT INTO calls_call AS stored (
        agent_id, call_id, experiment_id, variant_id, caller, started_at,
        {", ".join(OUTCOMES)}, transcript, fields, after_stop, received_at, updated_at
    )
    SELECT agent_id, call_id, experiment_id, variant_id, COALESCE(caller, ''),
        COALESCE(started_at, %(now)s), {", ".join(_inserted(name) for name in OUTCOMES)},
        COALESCE(transcript, '[]'), fields, after_stop, %(now)s, %(now)s
    FROM call_reports
    ORDER BY agent_id, call_id
    ON CONFLICT (agent_id, call_id) DO UPDATE SET (
        {", ".join(_KEPT)}, transcript, fields, updated_at
    ) = (
        SELECT {", ".join(f"COALESCE(r.{name}, stored.{name})" for name in _KEPT)},
            COALESCE(r.transcript, stored.transcript),
            stored.fields || r.fields,
            excluded.updated_at
        FROM call_reports AS r
        WHERE r.agent_id = excluded.agent_id AND r.call_id = excluded.call_id
    )
    -- xmax is 0 on a row version this statement inserted; an updated one carries our lock.
    RETURNING agent_id, call_id, xmax = 0 AS created
)
SELECT count(*) FILTER (WHERE u.created),
    count(*) FILTER (WHERE NOT u.created),
    count(*) FILTER (WHERE u.created AND (r.caller IS NULL OR r.started_at IS NULL))
FROM upserted AS u JOIN call_reports AS r USING (agent_id, call_id)
"""


def _upsert_postgresql(calls: list[StagedCall]) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(STAGING)
        sql = f"COPY call_reports ({', '.join(STAGING_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for c in calls:
                copy.write_row(
                    (
                        *(c.agent_id, c.call_id, c.experiment_id, c.variant_id, c.caller),
                        c.started_at,
                        *[getattr(c, name) for name in OUTCOMES],
                        *(c.transcript_json, json.dumps(c.fields), c.after_stop),
                    )
                )
        cursor.execute(UPSERT, {"now": timezone.now()})
        created, updated, incomplete = cursor.fetchone()
    if incomplete:
        # A call that existed when the batch was checked is gone; checked again, the batch
        # will say the call needs a caller and a start time.
        raise IntegrityError(f"{incomplete} calls vanished while the batch was stored")
    return created, updated


def _upsert_orm(calls: list[StagedCall]) -> tuple[int, int]:
    """SQLite, the embedded default: one writer at a time, so read, merge and write."""
    now = timezone.now()
    stored = {
        (c.agent_id, c.call_id): c
        for c in Call.objects.select_for_update().filter(
            agent_id__in={c.agent_id for c in calls}, call_id__in={c.call_id for c in calls}
        )
    }
    new, old = [], []
    for staged in calls:
        call = stored.get((staged.agent_id, staged.call_id))
        if call is None:
            new.append(Call(agent_id=staged.agent_id, call_id=staged.call_id, transcript=[]))
            call = new[-1]
            call.after_stop = staged.after_stop
        else:
            old.append(call)
        for name in REPLACED:
            if (value := getattr(staged, name)) is not None:
                setattr(call, name, value)
        if staged.transcript_json is not None:
            call.transcript = json.loads(staged.transcript_json)
        call.fields = {**(call.fields or {}), **staged.fields}
        call.updated_at = now
    Call.objects.bulk_create(new)
    Call.objects.bulk_update(
        old, ["experiment", "variant", *REPLACED[2:], "transcript", "fields", "updated_at"]
    )
    return len(new), len(old)
