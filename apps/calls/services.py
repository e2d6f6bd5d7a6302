"""Ingestion: calls reported by routers. Idempotent by (agent, call_id) and all-or-nothing."""

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.calls.schemas import CallReport, ReportErrors, turns_json
from apps.experiments.models import Experiment, GoalKind, Status, Variant
from config.celery import queue_after_commit

OUTCOMES = ("duration_seconds", "converted", "sentiment", "transferred", "completed")


def calls_ingest(*, reports: list[CallReport], key=None) -> tuple[int, int]:
    """Store a batch of call reports; returns (created, updated).

    The batch is checked whole first: any bad item refuses it all with the reasons per index,
    and nothing is written. A call whose experiment is no longer running is stored and marked
    `after_stop`, so frozen results never see it. A concurrent insert of the same new call
    makes us retry, and the retry finds it and updates it instead.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                created, updated = _ingest(reports, key)
                _queue_judging(reports)
                return created, updated
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _queue_judging(reports) -> None:
    """Calls of experiments with a custom goal go to the LLM judge once they are committed.

    Queued by task name: the judge is a layer above calls. If the broker is away the calls
    are still stored; resuming judging on the experiment page queues whatever is unjudged.
    """
    slugs = {r.agent for r in reports}
    if not Experiment.objects.filter(agent__slug__in=slugs, goal_kind=GoalKind.CUSTOM).exists():
        return  # the usual case: no judge involved, and a cheap question to find that out
    ids = list(
        Call.objects.filter(
            agent__slug__in=slugs,
            call_id__in={r.call_id for r in reports},
            experiment__goal_kind=GoalKind.CUSTOM,
        ).values_list("pk", flat=True)
    )
    if ids:
        queue_after_commit("judging.judge_calls", ids, what=f"{len(ids)} calls")


def _ingest(reports, key):
    agents = {a.slug: a for a in Agent.objects.filter(slug__in={r.agent for r in reports})}
    variant_ids = {r.variant for r in reports if r.variant is not None}
    variants = Variant.objects.select_related("experiment").in_bulk(variant_ids)
    existing = _existing(reports, agents)
    errors, rows = {}, {}
    for index, report in enumerate(reports):
        agent = agents.get(report.agent)
        ident = (agent.id if agent else None, report.call_id)
        is_new = ident not in existing and ident not in rows
        problem = _problem(report, agent, variants, is_new, key)
        if problem:
            errors[index] = problem
            continue
        call = rows.get(ident) or existing.get(ident) or NewCall(agent.id, report.call_id)
        rows[ident] = _merge(call, report, variants)
    if errors:
        noun = "call is" if len(errors) == 1 else "calls are"
        raise ReportErrors(f"{len(errors)} {noun} not valid; nothing was saved.", errors)
    new = [c for c in rows.values() if c.pk is None]
    old = [c for c in rows.values() if c.pk is not None]
    _insert(new)
    if old:
        Call.objects.bulk_update(
            old,
            [
                *OUTCOMES,
                "experiment",
                "variant",
                "caller",
                "started_at",
                "transcript",
                "fields",
                "updated_at",
            ],
        )
    return len(new), len(old)


def _existing(reports, agents) -> dict[tuple[int, str], Call]:
    ids = {r.call_id for r in reports}
    agent_ids = [agents[s].id for s in {r.agent for r in reports} if s in agents]
    calls = Call.objects.select_for_update().filter(agent_id__in=agent_ids, call_id__in=ids)
    return {(c.agent_id, c.call_id): c for c in calls}


def _problem(report, agent, variants, is_new, key) -> dict[str, str] | None:
    if agent is None or (key is not None and not key.allows(agent.id)):  # same for both
        return {"agent": f"There is no agent “{report.agent}”."}
    missing = [f for f in ("caller", "started_at") if getattr(report, f) is None]
    if is_new and missing:
        return {f: "Required for a new call." for f in missing}
    if report.variant is not None:
        variant = variants.get(report.variant)
        if variant is None or variant.experiment.agent_id != agent.id:
            return {"variant": f"Variant {report.variant} is not a variant of “{agent.slug}”."}
        if report.experiment is not None and variant.experiment_id != report.experiment:
            return {"variant": f"Variant {report.variant} belongs to another experiment."}
    elif report.experiment is not None:
        return {"variant": "Give the variant id from the assignment along with the experiment."}
    return None


def _merge(call: Call, report: CallReport, variants) -> Call:
    """Apply a report to a call: fields it carries replace, fields it omits are kept."""
    for name in ("caller", "started_at", *OUTCOMES):
        value = getattr(report, name)
        if value is not None:
            setattr(call, name, value)
    if report.transcript is not None:
        call.transcript_json = turns_json(report.transcript)  # written as is by COPY
        call.transcript = json.loads(call.transcript_json) if call.pk else None
    if report.fields:
        call.fields = {**(call.fields or {}), **report.fields}
    if report.variant is not None:
        variant = variants[report.variant]
        call.variant_id, call.experiment_id = variant.id, variant.experiment_id
        if call.pk is None:
            call.after_stop = variant.experiment.status != Status.RUNNING
    call.updated_at = timezone.now()
    return call


@dataclass(slots=True)
class NewCall:
    """A call seen for the first time: only what COPY writes. A Django model instance per
    call cost a sixth of ingestion's CPU for objects that are never used as models."""

    agent_id: int
    call_id: str
    experiment_id: int | None = None
    variant_id: int | None = None
    caller: str = ""
    started_at: datetime | None = None
    duration_seconds: float | None = None
    converted: bool | None = None
    sentiment: float | None = None
    transferred: bool | None = None
    completed: bool | None = None
    transcript: list | None = None
    transcript_json: str = "[]"
    fields: dict = field(default_factory=dict)
    after_stop: bool = False
    received_at: datetime | None = None
    updated_at: datetime | None = None
    pk: None = None

    def as_model(self) -> Call:
        values = {name: getattr(self, name) for name in COPY_COLUMNS if name != "transcript"}
        return Call(transcript=json.loads(self.transcript_json), **values)


COPY_COLUMNS = (
    "agent_id",
    "call_id",
    "experiment_id",
    "variant_id",
    "caller",
    "started_at",
    "duration_seconds",
    "converted",
    "sentiment",
    "transferred",
    "completed",
    "transcript",
    "fields",
    "after_stop",
    "received_at",
    "updated_at",
)


def _insert(calls: list[NewCall]) -> None:
    """Insert new calls. On PostgreSQL with COPY: rows stream to the server without an
    INSERT statement to build and parse, which is most of ingestion's cost (see
    docs/benchmarks.md). A duplicate (agent, call_id) still raises IntegrityError."""
    now = timezone.now()
    for call in calls:
        call.received_at = call.updated_at = now
    if connection.vendor != "postgresql":
        Call.objects.bulk_create([c.as_model() for c in calls])
        return
    sql = f"COPY calls_call ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for c in calls:
            copy.write_row(
                (
                    c.agent_id,
                    c.call_id,
                    c.experiment_id,
                    c.variant_id,
                    c.caller,
                    c.started_at,
                    c.duration_seconds,
                    c.converted,
                    c.sentiment,
                    c.transferred,
                    c.completed,
                    c.transcript_json,
                    json.dumps(c.fields or {}),
                    c.after_stop,
                    c.received_at,
                    c.updated_at,
                )
            )
