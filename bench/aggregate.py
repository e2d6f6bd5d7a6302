"""Results at scale: computing an experiment's results from 1,000,000 calls, against the raw
aggregate query alone.

An agent with a running experiment (control and b, 50/50) is made through the services, then
1,000,000 calls are inserted into it with one `INSERT … SELECT … FROM generate_series` (seeded
`random()` outcomes, a slightly better conversion in b, 600,000 distinct callers so 400,000 of
them call twice, each caller always in the same variant), loaded as a bulk load is (see
`insert_calls`), and `VACUUM ANALYZE calls_call` (as autovacuum would, and so that it does not
start in the middle of the rounds).

Then, in the same process and on the same database connection, side by side: (a) the SQL of
`apps.results.aggregation.aggregate_sql(unit=…, duration_cap=None, metrics=…)` (every metric
results_compute aggregates: all but the percentiles nobody watches) executed with the
experiment's id and fetched, and (b) `apps.results.services.results_compute(experiment=…)`,
the whole thing (that aggregate, the exposures and variants, the analysis, storing the
snapshot). One warm-up (a results_compute, which runs the same query, so it warms both and
shows that (a) is exactly the query (b) sends), then BENCH_AGGREGATE_ROUNDS rounds (5; after 3,
none starts past BENCH_AGGREGATE_SECONDS) with the one measured first alternating; each round
gives a ratio (b)/(a), the figure is the median ratio. Target: at most 1.3.

While (b) runs, Django's `execute_wrapper` times every query it sends, so the report says how
much of (b) is the aggregate query, the other queries, and Python (analysis, JSON, ORM).

The experiment of (b) keeps no segment (`segments=[]`), so (b) is the results alone. Side by
side as well (issue 12): (c) results with all built-in metrics *and three kept segments*
(hour_of_day, caller_country and ended_by: `results_compute` with `experiment.segments` set to
them, which splits the units in the same scan of the calls, then the three tables read from the
snapshot as the page and the API read them) and (d) the same with the four segments a new
experiment keeps by default, against the same raw aggregate query, BENCH_SEGMENT_ROUNDS rounds
(3), the order rotating; target for (c) 1.5.

The calls are left in the table: `bench/run` drops the whole database afterwards (with
BENCH_KEEP_DB=1 they stay for a look).
"""

import os
import time

from bench.lib import Figure, Result, env_number, log, median, save

CALLS = int(env_number("BENCH_AGGREGATE_CALLS", 1_000_000))
CALLERS = 2 * round(0.3 * CALLS)  # even, so a caller's calls all have the same parity: one variant
ROUNDS = int(env_number("BENCH_AGGREGATE_ROUNDS", 5))
MIN_ROUNDS = 3  # rounds after which BUDGET may stop the measurement
BUDGET = env_number("BENCH_AGGREGATE_SECONDS", 60)  # for the rounds, on a slow or busy machine
TARGET = 1.3
SEGMENT_ROUNDS = int(env_number("BENCH_SEGMENT_ROUNDS", 3))
SEGMENT_TARGET = 1.5
SEGMENTS = ("hour_of_day", "caller_country", "ended_by")
SEED = 0.42  # PostgreSQL's setseed(), for random() in the INSERT
PROMPT = "You are the front desk of Harbor Dental. Greet {{caller_name}} and book appointments."


def make_experiment():
    from apps.agents.services import agent_create
    from apps.experiments.services import (
        experiment_create,
        experiment_start,
        variant_fork,
        weights_set,
    )

    agent = agent_create(name="Bench results", slug="bench-results", prompt=PROMPT)
    experiment = experiment_create(
        agent=agent,
        name="Results at scale",
        goal_kind="conversion",
        description="A million calls to compute results from.",
        segments=[],  # (b) is the results alone; (c) and (d) set them
    )
    variant_fork(experiment=experiment, body=PROMPT + "\nThank the caller warmly for calling.")
    weights_set(experiment=experiment, weights={"control": 50, "b": 50})
    return experiment_start(experiment=experiment)


def insert_calls(experiment) -> dict:
    """CALLS calls in one INSERT … SELECT, loaded the way a bulk load is: in one transaction
    the table's plain indexes are dropped and built again afterwards from their own definitions
    (the primary key and the unique (agent, call_id) stay and are kept up to date), and, when
    the role may, the foreign-key triggers are skipped (`session_replication_role = replica`;
    the ids come from the services, so they exist). The schema afterwards is what it was. Then
    VACUUM ANALYZE. Returns the seconds each step took."""
    from django.db import connection, transaction

    variants = {v.key: v.id for v in experiment.variants.all()}
    control, b = variants["control"], variants["b"]
    sql = f"""
        INSERT INTO calls_call (
            agent_id, call_id, experiment_id, variant_id, caller, started_at, duration_seconds,
            converted, sentiment, transferred, completed, transcript, fields, after_stop,
            received_at, updated_at)
        SELECT {experiment.agent_id:d}, 'agg-' || g, {experiment.id:d},
               CASE WHEN mod(g, 2) = 0 THEN {control:d} ELSE {b:d} END,
               '+1555' || lpad(mod(g, {CALLERS:d})::text, 7, '0'),
               now() - make_interval(secs => g),
               floor(150 - 900 * ln(1 - random())) / 10,
               random() < CASE WHEN mod(g, 2) = 0 THEN 0.20 ELSE 0.21 END,
               CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 181 - 90) / 100 END,
               random() < 0.08,
               random() < 0.9,
               '[]'::jsonb, '{{}}'::jsonb, false, now(), now()
        FROM generate_series(1, {CALLS:d}) AS g
    """
    plain_indexes = """
        SELECT ci.relname, pg_get_indexdef(ix.indexrelid)
        FROM pg_index ix JOIN pg_class ci ON ci.oid = ix.indexrelid
        WHERE ix.indrelid = 'calls_call'::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
        ORDER BY ci.relname
    """
    steps: dict[str, float] = {}
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        skip_triggers = bool(cursor.fetchone()[0])
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(plain_indexes)
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(f"SELECT setseed({SEED})")
        cursor.execute(sql)
        steps["insert"] = time.perf_counter() - started
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(plain_indexes)
        if cursor.fetchall() != indexes:
            raise SystemExit("bench: the indexes of calls_call did not come back as they were")
    steps["indexes"] = time.perf_counter() - started - steps["insert"]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE calls_call")
    steps["vacuum"] = time.perf_counter() - started - steps["insert"] - steps["indexes"]
    log(
        f"aggregate: inserted {CALLS:,} calls in {steps['insert']:.1f} s"
        f"{' (foreign-key triggers skipped)' if skip_triggers else ''}, built "
        f"{len(indexes)} indexes again in {steps['indexes']:.1f} s, VACUUM ANALYZE "
        f"{steps['vacuum']:.1f} s"
    )
    return {
        **{k: round(v, 1) for k, v in steps.items()},
        "indexes_built": len(indexes),
        "skip_triggers": skip_triggers,
    }


def plan_nodes(sql: str, params: list) -> list[str]:
    """The node types of the aggregate query's plan, outermost first (EXPLAIN, not run)."""
    import json

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop(0)
        name = node["Node Type"]
        if node.get("Strategy") and node["Node Type"] == "Aggregate":
            name = f"{node['Strategy']}Aggregate"
        if node.get("Relation Name"):
            name += f" on {node['Relation Name']}"
        if node.get("Index Name"):
            name += f" using {node['Index Name']}"
        nodes.append(name)
        stack.extend(node.get("Plans", []))
    return nodes


class QueryTimer:
    """For `connection.execute_wrapper`: the time spent in each query, by kind."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.count = 0
        self.aggregate: tuple[str, list] | None = None  # the aggregate query's SQL and params

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = "aggregate" if "per_unit" in sql else "other"
            if kind == "aggregate":
                self.aggregate = (sql, list(params or []))
            self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
            self.count += 1


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection

    from apps.results.aggregation import aggregate_sql
    from apps.results.services import aggregated_metrics, results_compute

    experiment = make_experiment()
    setup = insert_calls(experiment)
    sql = aggregate_sql(
        unit=experiment.unit, duration_cap=None, metrics=aggregated_metrics(experiment)
    )
    if experiment.cap_duration:  # results_compute would also run the 99th-percentile query
        raise SystemExit("bench: the experiment caps durations; the raw query would differ")

    params = [experiment.id]  # one phase: no boundaries; no judge

    def raw() -> list:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def compute():
        return results_compute(experiment=experiment)

    # One warm-up: results_compute runs the aggregate query too, so this one call reads the
    # table into the caches and takes every code path of both once. It also shows which query
    # results_compute sends, to check that (a) is exactly that one.
    started = time.perf_counter()
    warm = QueryTimer()
    with connection.execute_wrapper(warm):
        snapshot = compute()
    log(f"aggregate: warm-up (results_compute) {time.perf_counter() - started:.2f} s")
    same_query = warm.aggregate == (sql, params)
    if not same_query:
        if warm.aggregate is None:
            raise SystemExit("bench: results_compute sent no aggregate query (no `per_unit`)")
        sql, params = warm.aggregate
        log("aggregate: WARNING: results_compute's aggregate query differs from aggregate_sql's;")
        log("aggregate: measuring the one results_compute sends")
    rounds, rows = [], []
    deadline = time.monotonic() + BUDGET
    for n in range(1, ROUNDS + 1):
        if n > MIN_ROUNDS and time.monotonic() > deadline:
            log(f"aggregate: {BUDGET:.0f} s spent, stopping after {n - 1} rounds")
            break
        order = ("compute", "raw") if n % 2 else ("raw", "compute")
        seconds, timer = {}, QueryTimer()
        for which in order:
            started = time.perf_counter()
            if which == "raw":
                rows = raw()
            else:
                with connection.execute_wrapper(timer):
                    snapshot = compute()
            seconds[which] = time.perf_counter() - started
        r = {
            "first": order[0],
            "raw": seconds["raw"],
            "compute": seconds["compute"],
            "ratio": seconds["compute"] / seconds["raw"],
            "compute_aggregate": timer.seconds.get("aggregate", 0.0),
            "compute_other_sql": timer.seconds.get("other", 0.0),
            "queries": timer.count,
        }
        rounds.append(r)
        log(
            f"aggregate: round {n} ({order[0]} first): raw {r['raw']:.3f} s, compute "
            f"{r['compute']:.3f} s (its aggregate {r['compute_aggregate']:.3f} s, other SQL "
            f"{r['compute_other_sql']:.3f} s in {r['queries']} queries), ratio {r['ratio']:.3f}"
        )

    raw_s = median([r["raw"] for r in rounds])
    compute_s = median([r["compute"] for r in rounds])
    ratio = median([r["ratio"] for r in rounds])
    in_aggregate = median([r["compute_aggregate"] for r in rounds])
    outside = median([r["compute"] - r["compute_aggregate"] for r in rounds])
    other_sql = median([r["compute_other_sql"] for r in rounds])
    python = median(
        [r["compute"] - r["compute_aggregate"] - r["compute_other_sql"] for r in rounds]
    )
    segment_rounds = _segment_rounds(experiment, raw, compute)
    seg_ratio = median([r["ratio"] for r in segment_rounds])
    default_ratio = median([r["default_ratio"] for r in segment_rounds])
    units = sum(int(row[3]) for row in rows)  # (variant, phase, calls, units, ...)
    plan = plan_nodes(sql, params)
    inside = median([r["compute"] / r["compute_aggregate"] for r in rounds])
    log(f"aggregate: plan {' > '.join(plan)}")
    log(
        f"aggregate: medians raw {raw_s:.3f} s, compute {compute_s:.3f} s, ratio {ratio:.3f}; "
        f"snapshot of {snapshot.calls:,} calls, {units:,} callers: {snapshot.verdict_sentence}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('calls_call')")
        table_bytes = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()[0]
        cursor.execute("SHOW max_parallel_workers_per_gather")
        parallel = cursor.fetchone()[0]

    save(
        Result(
            "aggregate",
            [
                Figure(
                    f"results_compute ÷ its aggregate query alone, {CALLS:,} calls "
                    f"(median of {len(rounds)} per-round ratios)",
                    ratio,
                    "",
                    ("<=", TARGET),
                    2,
                ),
                Figure(
                    "results_compute ÷ the aggregate query inside it (timed in the same call)",
                    inside,
                    "",
                    None,
                    3,
                ),
                Figure("aggregate query alone (median)", raw_s * 1000, "ms"),
                Figure("results_compute (median)", compute_s * 1000, "ms"),
                Figure(
                    "results_compute outside its aggregate query (median)",
                    outside * 1000,
                    "ms",
                ),
                Figure(
                    f"results_compute keeping {len(SEGMENTS)} segments ÷ the aggregate query "
                    f"alone (median of {len(segment_rounds)})",
                    seg_ratio,
                    "",
                    ("<=", SEGMENT_TARGET),
                    2,
                ),
                Figure(
                    "results_compute keeping the default segments ÷ the aggregate query alone "
                    f"(median of {len(segment_rounds)})",
                    default_ratio,
                    "",
                    None,
                    2,
                ),
                Figure(
                    "calls in the snapshot minus calls inserted (must be 0)",
                    snapshot.calls - CALLS,
                    "",
                    ("<=", 0),
                ),
            ],
            {
                "calls": CALLS,
                "callers": units,
                "rounds": rounds,
                "setup": setup,
                "in_aggregate_ms": round(in_aggregate * 1000, 1),
                "other_sql_ms": round(other_sql * 1000, 1),
                "python_ms": round(python * 1000, 1),
                "queries": rounds[-1]["queries"],
                "plan": plan,
                "table_mb": round(table_bytes / 1e6, 1),
                "work_mem": work_mem,
                "parallel_workers": parallel,
                "verdict": snapshot.verdict_sentence,
                "same_query": same_query,
                "segment_rounds": segment_rounds,
                "segments": list(SEGMENTS),
            },
        )
    )


def _segment_rounds(experiment, raw, compute) -> list[dict]:
    """(c) and (d) against (a): results_compute with kept segments, then their tables read from
    the snapshot, vs the raw query; the order of the three rotates from round to round."""
    from django.db import connection

    from apps.metrics.segments import DEFAULT
    from apps.results.segment_table import segment_table

    kept = {"segments": list(SEGMENTS), "default": list(DEFAULT)}

    def with_segments(which: str) -> float:
        experiment.segments = kept[which]
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            snapshot = compute()
        for name in kept[which]:
            if name not in snapshot.result.segments:
                raise SystemExit(f"bench: the snapshot lacks the kept segment {name}")
            segment_table(experiment, snapshot, name)
        return timer.seconds.get("aggregate", 0.0)

    rounds = []
    orders = [("segments", "raw", "default"), ("raw", "default", "segments")]
    orders.append(("default", "segments", "raw"))
    try:
        for n in range(1, SEGMENT_ROUNDS + 1):
            order = orders[(n - 1) % len(orders)]
            seconds = {}
            for which in order:
                started = time.perf_counter()
                if which == "raw":
                    raw()
                else:
                    seconds[f"{which}_query"] = with_segments(which)
                seconds[which] = time.perf_counter() - started
            r = {
                **seconds,
                "first": order[0],
                "ratio": seconds["segments"] / seconds["raw"],
                "default_ratio": seconds["default"] / seconds["raw"],
            }
            rounds.append(r)
            log(
                f"aggregate: segments round {n}: raw {r['raw']:.3f} s, results + "
                f"{len(SEGMENTS)} kept segments {r['segments']:.3f} s (its query "
                f"{r['segments_query']:.3f} s), ratio {r['ratio']:.3f}; with the "
                f"{len(DEFAULT)} default ones {r['default']:.3f} s, ratio {r['default_ratio']:.3f}"
            )
    finally:
        experiment.segments = []
    return rounds


def markdown(details: dict) -> str:
    setup = details["setup"]
    lines = [
        f"Results at scale: {details['calls']:,} calls from {details['callers']:,} callers "
        f"in one experiment, {details['table_mb']:,} MB on disk with the table's indexes (set up "
        f"in {setup['insert']} s for the INSERT, {setup['indexes']} s to build its "
        f"{setup['indexes_built']} plain indexes again, {setup['vacuum']} s for VACUUM "
        f"ANALYZE). Query plan: {' > '.join(details['plan'])} "
        f"(work_mem {details['work_mem']}, up to {details['parallel_workers']} parallel "
        f"workers). Inside `results_compute` (medians): the aggregate query "
        f"{details['in_aggregate_ms']:,} ms, its {details['queries'] - 1} other queries "
        f"{details['other_sql_ms']:,} ms together, Python (analysis, JSON, ORM) "
        f"{details['python_ms']:,} ms. Verdict of the snapshot: “{details['verdict']}”",
        "",
        "| round | first | aggregate query alone | results_compute | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    for n, r in enumerate(details["rounds"], 1):
        lines.append(
            f"| {n} | {'query' if r['first'] == 'raw' else 'results_compute'} | "
            f"{r['raw'] * 1000:,.0f} ms | {r['compute'] * 1000:,.0f} ms | {r['ratio']:.3f} |"
        )
    if details.get("segment_rounds"):
        lines += [
            "",
            f"Keeping three segments ({', '.join(details['segments'])}), split in the "
            "results' own scan, and the four a new experiment keeps by default:",
            "",
            "| round | aggregate query alone | results + 3 segments | its query | ratio "
            "| results + default segments | ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for n, r in enumerate(details["segment_rounds"], 1):
            lines.append(
                f"| {n} | {r['raw'] * 1000:,.0f} ms | {r['segments'] * 1000:,.0f} ms | "
                f"{r['segments_query'] * 1000:,.0f} ms | {r['ratio']:.3f} | "
                f"{r['default'] * 1000:,.0f} ms | {r['default_ratio']:.3f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
