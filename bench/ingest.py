"""Ingestion: calls per second through `POST /api/v1/calls` into PostgreSQL.

Batches of 500 calls, each with a transcript of about 2 KB (agent turns with their latency)
and every optional field of how the call ran (latency, cost, tokens, tools, who ended it),
every call_id new (so every row is
an insert), sent over a few connections at once so both workers always have a batch to work
on. The measured window is bounded in time and in batches; batches in flight when it closes
are waited for, so what the server accepted is known exactly, and the Call table must then hold
exactly that many rows. Target: at least 5,000 calls/s.

Then routers that overlap: for a few rounds, OVERLAP_ROUTERS connections post the same batch
of new calls at the same moment, as routers re-sending after a timeout do. Every one of those
requests must succeed, each call must be created once (the others count it as updated), and
the table must hold each call once.

A Python client rather than wrk: wrk stops mid-request at its deadline, so the batches it cut
off may still commit and the accepted count could not be reconciled with the table. At ten or
so requests a second the client's own cost is small (a batch is assembled from pre-rendered
pieces in about a millisecond).
"""

import http.client
import json
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg

from bench.lib import (
    Figure,
    Result,
    children,
    context,
    cpu_seconds,
    env_number,
    log,
    runqueue_wait_seconds,
    save,
)

BATCH = 500
SECONDS = env_number("BENCH_INGEST_SECONDS", 10)
CONNECTIONS = int(env_number("BENCH_INGEST_CONNECTIONS", 4))
MAX_BATCHES = int(env_number("BENCH_INGEST_MAX_BATCHES", 2000))
WARMUP_BATCHES = 4
OVERLAP_ROUTERS = 4
OVERLAP_ROUNDS = int(env_number("BENCH_INGEST_OVERLAP_ROUNDS", 8))
TRANSCRIPT_BYTES = 2000  # of JSON, the transcript alone

LINES = [
    ("agent", "Harbor Dental, this is Ava. How can I help you today?"),
    ("caller", "Hi, I'd like to book a cleaning, sometime next week if possible."),
    ("agent", "Of course. I can offer Tuesday at 9:30 or Thursday at 14:00. Which suits you?"),
    ("caller", "Tuesday morning works, but could it be a little later, maybe ten?"),
    ("agent", "Tuesday at 10:00 is free. May I have your name and date of birth?"),
    ("caller", "Sure, it's Dana Whitfield, the fourth of March, 1987."),
    ("agent", "Thank you, Dana. You're booked for Tuesday at 10:00 for a cleaning."),
    ("caller", "Great. Will I get a reminder? I tend to forget these things."),
    ("agent", "Yes, we send a text the day before. Is this number the best one to reach you?"),
    ("caller", "Yes, this one is fine. Oh, and is parking available near the practice?"),
    ("agent", "There is free parking behind the building; the entrance is on Mill Street."),
    ("caller", "Perfect, thanks. That's all I needed."),
    ("agent", "You're welcome. Thanks for calling Harbor Dental, and see you on Tuesday!"),
    ("caller", "Bye now."),
]


def call_fragments(ctx) -> list[bytes]:
    """Everything of a call after its call_id, pre-rendered: a few variations of outcome."""
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    transcript: list[dict] = []
    while len(json.dumps(transcript, separators=(",", ":"))) < TRANSCRIPT_BYTES:
        speaker, text = LINES[len(transcript) % len(LINES)]
        turn = {"speaker": speaker, "text": text, "start_seconds": len(transcript) * 6.5}
        if speaker == "agent":
            turn["latency_ms"] = 640.0 + 37 * (len(transcript) % 9)
        transcript.append(turn)
    fragments = []
    for n in range(20):
        key = "control" if n % 2 == 0 else "b"
        call = {
            "agent": ctx.agent,
            "caller": f"+1555{n:07d}",
            "variant": ctx.variants[key],
            "experiment": ctx.experiment,
            "started_at": started,
            "duration_seconds": 60.0 + n * 7,
            "converted": n % 3 == 0,
            "sentiment": round(-0.5 + n / 20, 2),
            "transferred": n % 7 == 0,
            "completed": n % 11 != 0,
            # How the call ran: every optional field the metrics read.
            "response_latency_ms": 700.0 + 13 * n,
            "cost_usd": round(0.04 + n / 1000, 4),
            "tokens_in": 2400 + 50 * n,
            "tokens_out": 600 + 10 * n,
            "tool_calls": n % 4,
            "tool_errors": 1 if n % 4 == 3 and n % 8 == 7 else 0,
            "interruptions": n % 3,
            "ended_by": ("caller", "agent", "transfer", "caller")[n % 4],
            "transcript": transcript,
            "fields": {"booked_slot": "tue-10:00", "language": "en"},
        }
        if n % 10 == 9:
            call["end_reason"] = "voicemail"
        fragments.append(json.dumps(call, separators=(",", ":"))[1:].encode())
    return fragments


class Sender:
    def __init__(self, ctx, fragments: list[bytes]):
        self.ctx, self.fragments = ctx, fragments
        self.prefix = uuid.uuid4().hex[:8]
        self.lock = threading.Lock()
        self.next_batch = 0
        self.accepted = self.updated = self.failed = self.sent_bytes = 0
        self.failures: list[str] = []

    def body(self, batch: int) -> bytes:
        n = len(self.fragments)
        return b"[%s]" % b",".join(
            b'{"call_id":"%s-%d-%d",%s' % (self.prefix.encode(), batch, i, self.fragments[i % n])
            for i in range(BATCH)
        )

    def take(self, deadline: float, limit: int) -> int | None:
        with self.lock:
            if self.next_batch >= limit or time.monotonic() >= deadline:
                return None
            self.next_batch += 1
            return self.next_batch - 1

    def post(self, batch: int) -> None:
        body = self.body(batch)
        headers = {"Authorization": f"Bearer {self.ctx.key}", "Content-Type": "application/json"}
        connection = http.client.HTTPConnection(self.ctx.host, self.ctx.port, timeout=60)
        try:
            connection.request("POST", "/api/v1/calls", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        except OSError as error:
            with self.lock:
                self.failed += 1
                self.failures.append(str(error))
            return
        finally:
            connection.close()
        with self.lock:
            self.sent_bytes += len(body)
            if response.status == 200:
                counts = json.loads(answer)
                self.accepted += counts["created"]
                self.updated += counts["updated"]
            else:
                self.failed += 1
                self.failures.append(f"{response.status} {answer[:200]!r}")

    def run(self, seconds: float, limit: int, connections: int) -> float:
        deadline = time.monotonic() + seconds

        def worker():
            while (batch := self.take(deadline, limit)) is not None:
                self.post(batch)

        threads = [threading.Thread(target=worker) for _ in range(connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        return time.perf_counter() - started


def overlap(ctx, fragments: list[bytes]) -> dict:
    """Rounds of OVERLAP_ROUTERS senders posting one batch of new calls at the same moment."""
    sender = Sender(ctx, fragments)
    sender.prefix = "overlap-" + sender.prefix
    started = time.perf_counter()
    for batch in range(OVERLAP_ROUNDS):
        together = threading.Barrier(OVERLAP_ROUTERS)

        def post(batch=batch, together=together):
            together.wait()
            sender.post(batch)

        threads = [threading.Thread(target=post) for _ in range(OVERLAP_ROUTERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    return {
        "requests": OVERLAP_ROUNDS * OVERLAP_ROUTERS,
        "calls": OVERLAP_ROUNDS * BATCH,
        "failed": sender.failed,
        "created": sender.accepted,
        "updated": sender.updated,
        "seconds": round(time.perf_counter() - started, 2),
        "failures": sender.failures[:3],
    }


def main() -> None:
    ctx = context()
    fragments = call_fragments(ctx)
    sender = Sender(ctx, fragments)
    sample = sender.body(0)
    per_call = len(fragments[0]) + 30
    log(f"ingest: {BATCH} calls a batch, {len(sample) / 1e6:.2f} MB a batch, ~{per_call} B a call")

    sender.run(60, WARMUP_BATCHES, 2)  # both workers import and connect before the clock runs
    warm_accepted, warm_bytes = sender.accepted, sender.sent_bytes
    first_measured = sender.next_batch
    with psycopg.connect(ctx.database_url, autocommit=True) as db:
        # Where the CPU goes: the web workers, and the PostgreSQL backends serving them.
        backends = [
            pid
            for (pid,) in db.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        workers = children(ctx.gunicorn_pid)
        cpu0 = cpu_seconds(workers), cpu_seconds(backends)
        wait0 = runqueue_wait_seconds(workers + backends)
        elapsed = sender.run(SECONDS, first_measured + MAX_BATCHES, CONNECTIONS)
        cpu_web = cpu_seconds(workers) - cpu0[0]
        cpu_db = cpu_seconds(backends) - cpu0[1]
        waited = runqueue_wait_seconds(workers + backends) - wait0
        rows = db.execute("SELECT count(*) FROM calls_call").fetchone()[0]
        table_bytes = db.execute("SELECT pg_total_relation_size('calls_call')").fetchone()[0]
        overlapped = overlap(ctx, fragments)
        overlap_rows = db.execute(
            "SELECT count(*) FROM calls_call WHERE call_id LIKE 'overlap-%'"
        ).fetchone()[0]
    batches = sender.next_batch - first_measured
    measured = sender.accepted - warm_accepted
    rate = measured / elapsed
    per_k = 1000 / max(measured, 1) * 1000  # ms of CPU per 1,000 calls
    log(
        f"ingest: {measured:,} calls in {batches} batches in {elapsed:.1f} s: {rate:,.0f} calls/s;"
        f" CPU per 1,000 calls: web workers {cpu_web * per_k:,.0f} ms, PostgreSQL "
        f"{cpu_db * per_k:,.0f} ms; waited for a core {waited * per_k:,.0f} ms"
    )
    log(f"ingest: accepted {sender.accepted:,}, table holds {rows:,} rows, failed {sender.failed}")
    if sender.failures:
        log(f"ingest: first failure: {sender.failures[0]}")
    log(
        f"ingest: overlapping: {overlapped['requests']} requests ({OVERLAP_ROUTERS} at once) of "
        f"{overlapped['calls']:,} calls in {overlapped['seconds']} s: {overlapped['failed']} "
        f"failed, {overlapped['created']:,} created, {overlapped['updated']:,} updated, "
        f"table holds {overlap_rows:,}"
    )
    if overlapped["failures"]:
        log(f"ingest: overlapping: first failure: {overlapped['failures'][0]}")
    sent = overlapped["calls"] * OVERLAP_ROUTERS

    save(
        Result(
            "ingest",
            [
                Figure(
                    f"calls/s ({BATCH} a batch, ~2 KB transcripts, {CONNECTIONS} connections)",
                    rate,
                    "calls/s",
                    (">=", 5000),
                ),
                Figure("web workers' CPU per 1,000 calls", cpu_web * per_k, "ms"),
                Figure("PostgreSQL backends' CPU per 1,000 calls", cpu_db * per_k, "ms"),
                Figure(
                    "time workers and backends waited for a core, per 1,000 calls",
                    waited * per_k,
                    "ms",
                ),
                Figure(
                    "rows in the Call table minus calls accepted (must be 0)",
                    rows - sender.accepted,
                    "",
                    ("<=", 0),
                ),
                Figure(
                    "batches refused or failed, and calls counted as updates",
                    sender.failed + sender.updated,
                    "",
                    ("<=", 0),
                ),
                Figure(
                    f"overlapping batches ({OVERLAP_ROUTERS} routers posting the same new calls"
                    " at once) that failed",
                    overlapped["failed"],
                    "",
                    ("<=", 0),
                ),
                Figure(
                    "overlapping: calls stored, created or updated other than once each",
                    abs(overlap_rows - overlapped["calls"])
                    + abs(overlapped["created"] - overlapped["calls"])
                    + abs(overlapped["created"] + overlapped["updated"] - sent),
                    "",
                    ("<=", 0),
                ),
            ],
            {
                "batch": BATCH,
                "connections": CONNECTIONS,
                "seconds": round(elapsed, 2),
                "batches": batches,
                "calls": measured,
                "batch_mb": round(len(sample) / 1e6, 2),
                "call_bytes": per_call,
                "mb_per_s": round((sender.sent_bytes - warm_bytes) / 1e6 / elapsed, 1),
                "accepted_total": sender.accepted,
                "rows": rows,
                "table_mb": round(table_bytes / 1e6, 1),
                "failures": sender.failures[:5],
                "backends": len(backends),
                "overlap": {**overlapped, "rows": overlap_rows, "routers": OVERLAP_ROUTERS},
            },
        )
    )


def markdown(details: dict) -> str:
    return (
        f"Ingestion: {details['calls']:,} calls in {details['batches']} batches of "
        f"{details['batch']} ({details['batch_mb']} MB a batch, about {details['call_bytes']:,} "
        f"bytes a call) over {details['connections']} connections in {details['seconds']} s "
        f"({details['mb_per_s']} MB/s of JSON). The Call table then held {details['rows']:,} "
        f"rows for {details['accepted_total']:,} accepted calls (warm-up included), "
        f"{details['table_mb']} MB on disk." + _overlap_markdown(details.get("overlap"))
    )


def _overlap_markdown(o: dict | None) -> str:
    if not o:
        return ""
    return (
        f" Overlapping routers: {o['requests'] // o['routers']} rounds of {o['routers']} "
        f"requests posting the same {BATCH} new calls at once: {o['failed']} failed; "
        f"{o['created']:,} calls created and {o['updated']:,} updated for {o['calls']:,} "
        f"distinct calls; the table holds {o['rows']:,} of them."
    )


if __name__ == "__main__":
    main()
