"""How a report merges into a stored call, on PostgreSQL's upsert and on the ORM path that
SQLite (the embedded `make run` default) takes: both must apply the same rule."""

import json

import pytest
from django.db import IntegrityError, transaction

from apps.calls import services, upsert
from apps.calls.models import Call
from apps.calls.schemas import ReportErrors, parse_reports
from apps.calls.services import calls_ingest
from apps.experiments.services import experiment_start, experiment_stop

pytestmark = pytest.mark.django_db

TRANSCRIPT = [{"speaker": "agent", "text": "Harbor Dental, how can I help?", "start_seconds": 0}]


@pytest.fixture(params=["postgresql", "orm"])
def path(request, monkeypatch):
    """Which way the batch is written; the ORM one is SQLite's, run here on PostgreSQL."""
    if request.param == "orm":
        monkeypatch.setattr(upsert, "_upsert_postgresql", upsert._upsert_orm)
    return request.param


def ingest(*items) -> tuple[int, int]:
    return calls_ingest(reports=parse_reports(json.dumps(list(items)).encode())[0])


def full(agent, **extra) -> dict:
    return {
        "call_id": "call-1",
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_seconds": 95.5,
        "converted": True,
        "sentiment": 0.4,
        "transferred": False,
        "completed": True,
        "transcript": TRANSCRIPT,
        "fields": {"booking": "B-17"},
        **extra,
    }


def stored(agent) -> dict:
    (row,) = Call.objects.filter(agent=agent).values()
    return row


def test_a_report_that_omits_fields_keeps_their_stored_values(path, agent):
    ingest(full(agent))
    before = stored(agent)
    assert ingest({"call_id": "call-1", "agent": agent.slug, "sentiment": -0.2}) == (0, 1)
    after = stored(agent)
    assert after["sentiment"] == -0.2
    for name in ("caller", "started_at", "duration_seconds", "converted", "transferred"):
        assert after[name] == before[name], name
    assert (after["completed"], after["transcript"], after["fields"]) == (
        True,
        TRANSCRIPT,
        {"booking": "B-17"},
    )
    assert after["received_at"] == before["received_at"]
    assert after["updated_at"] > before["updated_at"]


def test_fields_are_merged_key_by_key(path, agent):
    ingest(full(agent, fields={"a": 1, "b": {"x": 1}}))
    ingest({"call_id": "call-1", "agent": agent.slug, "fields": {"b": {"y": 2}, "c": 3}})
    # Key by key at the top: a later value replaces the whole value of its key.
    assert stored(agent)["fields"] == {"a": 1, "b": {"y": 2}, "c": 3}


def test_the_transcript_is_replaced_only_when_sent(path, agent):
    ingest(full(agent))
    ingest({"call_id": "call-1", "agent": agent.slug, "converted": False})
    assert stored(agent)["transcript"] == TRANSCRIPT
    shorter = [{"speaker": "caller", "text": "Bye.", "start_seconds": 1.5}]
    ingest({"call_id": "call-1", "agent": agent.slug, "transcript": shorter})
    assert stored(agent)["transcript"] == shorter
    ingest({"call_id": "call-1", "agent": agent.slug, "transcript": []})
    assert stored(agent)["transcript"] == []


def test_a_new_call_without_a_transcript_gets_an_empty_one(path, agent):
    report = full(agent)
    del report["transcript"], report["fields"]
    assert ingest(report) == (1, 0)
    assert (stored(agent)["transcript"], stored(agent)["fields"]) == ([], {})


def test_after_stop_is_decided_when_the_call_is_first_stored(path, experiment, operator):
    running = experiment_start(experiment=experiment, user=operator)
    b = running.variants.get(key="b")
    report = full(running.agent, variant=b.id, experiment=running.id)
    ingest(report)
    experiment_stop(experiment=running, user=operator)
    ingest(dict(report, converted=False))
    ingest(dict(report, call_id="call-2"))
    flags = dict(Call.objects.values_list("call_id", "after_stop"))
    assert flags == {"call-1": False, "call-2": True}
    assert Call.objects.get(call_id="call-1").converted is False


def test_reports_of_one_call_in_one_batch_apply_in_order(path, agent):
    ingest(full(agent, fields={"a": 1}))
    later = {"call_id": "call-1", "agent": agent.slug, "converted": False, "fields": {"b": 2}}
    last = {"call_id": "call-1", "agent": agent.slug, "converted": None, "fields": {"a": 3}}
    assert ingest(later, last) == (0, 1)
    row = stored(agent)
    assert (row["converted"], row["fields"]) == (False, {"a": 3, "b": 2})


def test_a_call_gone_between_the_check_and_the_write_is_refused_not_stored(agent, monkeypatch):
    """The check saw the call stored, so it let a report without caller through; if the call
    is gone when the batch is written, the upsert must not store it with a placeholder."""
    real_known = services._known
    answers = iter([{(agent.id, "call-1"): (None, None)}])
    monkeypatch.setattr(services, "_known", lambda *a: next(answers, None) or real_known(*a))
    with pytest.raises(ReportErrors) as refused:
        ingest({"call_id": "call-1", "agent": agent.slug, "converted": True})
    assert refused.value.items == {
        0: {"caller": "Required for a new call.", "started_at": "Required for a new call."}
    }
    assert not Call.objects.exists()


def test_the_postgresql_upsert_refuses_a_vanished_call_with_an_integrity_error(agent):
    """What the retry above relies on."""
    call = upsert.StagedCall(agent.id, "call-1", converted=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        upsert._upsert_postgresql([call])
    assert not Call.objects.exists()
