"""Routers reporting the same calls at once: no batch fails, no call counts twice, no report
is lost, on real PostgreSQL with one connection per writer."""

import json
import random
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest
from django.db import connection

from apps.calls import services
from apps.calls.models import Call
from apps.calls.schemas import CallReport, parse_reports
from apps.calls.services import calls_ingest
from apps.experiments.services import experiment_start
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROUTERS = 8
SECONDS = 30
POOL = 200  # call ids every router draws from: each batch overlaps the others'
BATCH = 40


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


@dataclass
class Batch:
    router: int
    seq: int
    ids: list[int]
    sent: float
    answered: float
    status: int
    answer: dict


@dataclass
class Target:
    slug: str
    experiment: int
    variants: list[int]


def router_report(target: Target, router: int, seq: int, number: int) -> dict:
    """Every value says which router's which batch it came from, so the stored call shows
    whose report it holds, column by column."""
    return {
        "call_id": f"call-{number}",
        "agent": target.slug,
        "caller": f"+1555{router}{seq:06d}",
        "variant": target.variants[router % 2],
        "experiment": target.experiment,
        "started_at": f"2026-11-22T10:{router:02d}:00Z",
        "duration_seconds": float(seq),
        "converted": seq % 2 == 0,
        "sentiment": router / 10,
        "transcript": [{"speaker": "agent", "text": f"{router}-{seq}", "start_seconds": 0}],
        "fields": {"last": f"{router}-{seq}", f"router-{router}": seq},
    }


def run_router(base_url, key, target, router: int, deadline: float, log: list) -> None:
    rng = random.Random(router)
    address = urlsplit(base_url)
    seq = 0
    while time.monotonic() < deadline:
        seq += 1
        ids = rng.sample(range(POOL), BATCH)  # random order: rows come in any order
        body = [router_report(target, router, seq, n) for n in ids]
        sent = time.monotonic()
        http = HTTPConnection(address.hostname, address.port, timeout=60)
        try:
            http.request(
                "POST",
                "/api/v1/calls",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            response = http.getresponse()
            status, raw = response.status, response.read()
        finally:
            http.close()
        answer = json.loads(raw) if status == 200 else {"error": raw[:300]}
        log.append(Batch(router, seq, ids, sent, time.monotonic(), status, answer))


def test_eight_routers_resending_overlapping_batches_never_fail_nor_count_twice(
    live_server, router_key, running
):
    variants = list(running.variants.order_by("id").values_list("id", flat=True))
    target = Target(running.agent.slug, running.id, variants)
    log: list[Batch] = []
    deadline = time.monotonic() + SECONDS
    threads = [
        threading.Thread(
            target=run_router, args=(live_server.url, router_key, target, n, deadline, log)
        )
        for n in range(ROUTERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)

    failed = [(b.router, b.seq, b.status, b.answer) for b in log if b.status != 200]
    assert failed == [], f"{len(failed)} of {len(log)} batches failed, first: {failed[:3]}"
    assert len(log) >= ROUTERS * 5, "too few batches to overlap"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT (agent_id, call_id)) FROM calls_call "
            "WHERE agent_id = %s",
            [running.agent_id],
        )
        rows, distinct = cursor.fetchone()
    sent_ids = {n for b in log for n in b.ids}
    assert rows == distinct == len(sent_ids)
    # Each call was created by exactly one batch; every other report of it was an update.
    assert sum(b.answer["created"] for b in log) == rows
    assert sum(b.answer["created"] + b.answer["updated"] for b in log) == sum(
        len(b.ids) for b in log
    )

    print(
        f"{len(log)} batches from {ROUTERS} routers in {SECONDS} s, {rows} calls, "
        f"{sum(b.answer['updated'] for b in log)} updates, 0 failed"
    )
    batches = {(b.router, b.seq): b for b in log}
    for call in Call.objects.filter(agent=running.agent):
        number = int(call.call_id.removeprefix("call-"))
        router, seq = map(int, call.fields["last"].split("-"))
        last = batches[router, seq]
        # Every column holds that one report, none a mix of two.
        expected = router_report(target, router, seq, number)
        assert (call.caller, call.duration_seconds, call.converted) == (
            expected["caller"],
            expected["duration_seconds"],
            expected["converted"],
        )
        assert call.transcript == expected["transcript"]
        assert call.variant_id == variants[router % 2]
        # ...and it is the last one: no batch with this call was sent after it was answered.
        later = [b for b in log if number in b.ids and b.sent > last.answered]
        assert later == [], f"{call.call_id} holds {router}-{seq}, sent before {later[0]}"
        # Fields merged key by key under contention: every router's latest report is there.
        for n in range(ROUTERS):
            seqs = [b.seq for b in log if b.router == n and number in b.ids]
            assert call.fields.get(f"router-{n}") == (max(seqs) if seqs else None)


def new_call(agent, caller: str, **extra) -> list[CallReport]:
    item = {"call_id": "call-1", "agent": agent.slug, "caller": caller, **extra}
    item["started_at"] = "2026-11-22T10:00:00Z"
    return parse_reports(json.dumps([item]).encode())[0]


def test_two_transactions_storing_the_same_new_call_at_once_both_succeed(agent, monkeypatch):
    """Both check the batch while the call is new; the first writes it and holds its
    transaction open until the second is waiting on that row; then the first commits and the
    second, which also thought the call new, updates it and says so."""
    both_checked = threading.Barrier(2, timeout=10)
    first_wrote = threading.Event()
    real_upsert = services.calls_upsert

    def upsert_in_step(calls):
        both_checked.wait()  # each has read the table: the call is new to both
        if threading.current_thread().name == "second":
            first_wrote.wait(10)
            return real_upsert(calls)
        result = real_upsert(calls)
        first_wrote.set()
        assert wait_for(second_is_waiting_for_a_lock, seconds=10)
        return result  # and commit

    monkeypatch.setattr(services, "calls_upsert", upsert_in_step)
    reports = {
        "first": new_call(agent, "+15550001", duration_seconds=10.0, fields={"a": 1}),
        "second": new_call(agent, "+15550002", converted=True, fields={"b": 2}),
    }
    results, errors = {}, {}

    def ingest(name):
        try:
            results[name] = calls_ingest(reports=reports[name])
        except Exception as error:  # reported by the assertion below
            errors[name] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest, args=(n,), name=n) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == {}
    assert results == {"first": (1, 0), "second": (0, 1)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(caller), min(duration_seconds), bool_and(converted), "
            "min(fields::text) FROM calls_call WHERE agent_id = %s",
            [agent.id],
        )
        count, caller, duration, converted, fields = cursor.fetchone()
    assert (count, caller, duration, converted) == (1, "+15550002", 10.0, True)
    assert json.loads(fields) == {"a": 1, "b": 2}


def second_is_waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] == 1
