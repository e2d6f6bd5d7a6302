"""Ingestion: calls reported by routers. Idempotent by (agent, call_id) and all-or-nothing."""

from django.db import DataError, IntegrityError, transaction
from psycopg.errors import CheckViolation

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.calls.schemas import CallReport, ReportErrors, turns_json
from apps.calls.upsert import OUTCOMES, StagedCall, calls_upsert
from apps.experiments.models import Experiment, GoalKind, Status, Variant
from config.celery import queue_after_commit


def calls_ingest(*, reports: list[CallReport], key=None) -> tuple[int, int]:
    """Store a batch of call reports; returns (created, updated).

    The batch is checked whole first: any bad item refuses it all with the reasons per index,
    and nothing is written. A call whose experiment is no longer running is stored and marked
    `after_stop`, so frozen results never see it. Batches carrying the same calls at once
    never collide: the upsert updates what another batch stored first (apps/calls/upsert.py).
    The retry is for a call that vanished between the check and the write: checked again,
    the batch says what a new call needs.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                created, updated = _ingest(reports, key)
                _queue_judging(reports)
                return created, updated
        except (DataError, IntegrityError) as error:
            if _refused_value(error):
                raise _which_calls_the_database_refuses(reports, key) from None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _refused_value(error: Exception) -> bool:
    """The database refused a value (a check, a type, a range), not a race between batches."""
    return isinstance(error, DataError) or isinstance(error.__cause__, CheckViolation)


class _TryOnly(Exception):
    pass


def _which_calls_the_database_refuses(reports, key) -> ReportErrors:
    """Whatever the validation let through that the database still refuses (say a value kept
    from before a check existed) is a 400 naming the call, never a 500: a 500 makes routers
    hold the batch, and every batch after it, for good. Each call is tried alone and rolled
    back, so nothing is written."""
    items = {}
    for index, report in enumerate(reports):
        try:
            with transaction.atomic():
                _ingest([report], key)
                raise _TryOnly
        except (_TryOnly, ReportErrors):  # alone, a later report of a new call may lack
            pass  # what an earlier one in the batch gave: not what we are looking for
        except (DataError, IntegrityError) as error:
            if _refused_value(error):
                reason = str(error.__cause__ or error).splitlines()[0]
                items[index] = {"call": f"The database cannot store this call: {reason}."}
    if not items:
        return ReportErrors("The database refused this batch; nothing was saved.")
    noun = "call is" if len(items) == 1 else "calls are"
    return ReportErrors(f"{len(items)} {noun} not valid; nothing was saved.", items)


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
    known = _known(reports, agents)
    errors, staged, last = {}, {}, {}
    for index, report in enumerate(reports):
        agent = agents.get(report.agent)
        ident = (agent.id if agent else None, report.call_id)
        is_new = ident not in known and ident not in staged
        problem = _problem(report, agent, variants, is_new, key)
        if problem:
            errors[index] = problem
            continue
        call = staged.get(ident) or StagedCall(agent.id, report.call_id)
        staged[ident] = _merge(call, report, variants)
        last[ident] = index
    for ident, index in last.items():  # the call as the batch leaves it, named by its last report
        if problem := _tool_errors_problem(staged[ident], known.get(ident)):
            errors.setdefault(index, problem)
    if errors:
        noun = "call is" if len(errors) == 1 else "calls are"
        raise ReportErrors(f"{len(errors)} {noun} not valid; nothing was saved.", errors)
    return calls_upsert(list(staged.values()))


def _known(reports, agents) -> dict[tuple[int, str], tuple]:
    """Which calls are stored already, so a new one must name its caller and start time,
    with their stored (tool_calls, tool_errors). Not locked: the upsert decides what is new
    when it writes, and the database's check has the last word on the tool counts."""
    ids = {r.call_id for r in reports}
    agent_ids = [agents[s].id for s in {r.agent for r in reports} if s in agents]
    calls = Call.objects.filter(agent_id__in=agent_ids, call_id__in=ids)
    rows = calls.values_list("agent_id", "call_id", "tool_calls", "tool_errors")
    return {(a, c): (tools, errors) for a, c, tools, errors in rows}


def _tool_errors_problem(call: StagedCall, stored: tuple | None) -> dict[str, str] | None:
    """A report may carry tool_errors without tool_calls (or the reverse), so the schema
    cannot compare them; compared here with what this batch and the stored call say, so the
    sender reads which report and why rather than the database's check by name."""
    tools, errors = stored or (None, None)
    tools = call.tool_calls if call.tool_calls is not None else tools
    errors = call.tool_errors if call.tool_errors is not None else errors
    if tools is None or errors is None or errors <= tools:
        return None
    return {
        "tool_errors": f"tool_errors ({errors}) would be more than tool_calls ({tools}) with "
        "what was reported for this call before; count failed tool calls among all tool calls."
    }


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


def _merge(call: StagedCall, report: CallReport, variants) -> StagedCall:
    """Apply a report to a call staged in this batch: fields it carries replace, fields it
    omits are kept; stored calls get the same rule in the upsert (apps/calls/upsert.py)."""
    for name in ("caller", "started_at", *OUTCOMES):
        value = getattr(report, name)
        if value is not None:
            setattr(call, name, value)
    if report.transcript is not None:
        call.transcript_json = turns_json(report.transcript)  # written as is by COPY
    if report.fields:
        call.fields = {**call.fields, **report.fields}
    if report.variant is not None:
        variant = variants[report.variant]
        call.variant_id, call.experiment_id = variant.id, variant.experiment_id
        call.after_stop = variant.experiment.status != Status.RUNNING
    return call
