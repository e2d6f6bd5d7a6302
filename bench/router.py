"""The router's path: assignments against the bare Django view, side by side, then latency.

1. Throughput. wrk drives `GET /healthz` and `POST /api/v1/assignments` (a new caller on every
   request) in alternating rounds on the same server, healthz first in odd rounds and
   assignments first in even ones, so drift (a busy neighbour, a warming cache) falls on both.
   Each round gives a ratio; the figure is the median ratio. Target: at least 0.9. Beside it,
   from /proc, the workers' own CPU time per request for each view (what the ratio would be
   with the cores to themselves) and the time they were ready to run but kept from a core by
   other processes.
2. Latency at half the maximum rate. The maximum is the median assignment rate of step 1; wrk
   then sends assignments paced at half of it (bench/lua/paced.lua: each request has a due
   time, a free connection waits for the next one), over one connection per worker, and
   reports its latency distribution. Target: p99 at most 10 ms.
"""

import json
import urllib.request

from bench.lib import (
    Figure,
    Result,
    children,
    context,
    cpu_seconds,
    env_number,
    log,
    median,
    runqueue_wait_seconds,
    save,
    wrk,
)

ROUNDS = int(env_number("BENCH_ROUNDS", 8))
ROUND_SECONDS = env_number("BENCH_ROUND_SECONDS", 3)
CONNECTIONS = int(env_number("BENCH_CONNECTIONS", 8))
LATENCY_SECONDS = env_number("BENCH_LATENCY_SECONDS", 15)
LATENCY_SHARE = env_number("BENCH_LATENCY_SHARE", 0.5)  # of the maximum rate
SANITY_CALLERS = 200

VIEWS = {"healthz": "/healthz", "assign": "/api/v1/assignments"}


def sanity(ctx) -> dict[str, int]:
    """A few hundred real assignments, one by one: all answered, in both arms."""
    seen: dict[str, int] = {}
    for n in range(SANITY_CALLERS):
        body = json.dumps({"agent": ctx.agent, "caller": f"+1777{n:07d}"}).encode()
        request = urllib.request.Request(
            f"{ctx.url}/api/v1/assignments",
            data=body,
            headers={"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.load(response)
        key = (answer.get("variant") or {}).get("key", "none")
        seen[key] = seen.get(key, 0) + 1
    if set(seen) != {"control", "b"}:
        raise SystemExit(f"bench: expected callers in control and b, got {seen}")
    return seen


def measure(ctx, workers: list[int], name: str, seconds: float, connections: int) -> dict:
    """One wrk run of a view, with the workers' CPU time and run-queue wait per request."""
    before, waited = cpu_seconds(workers), runqueue_wait_seconds(workers)
    summary = wrk(ctx, name, VIEWS[name], seconds=seconds, connections=connections)
    requests = max(summary["requests"], 1)
    summary["cpu_us"] = (cpu_seconds(workers) - before) / requests * 1e6
    summary["wait_us"] = (runqueue_wait_seconds(workers) - waited) / requests * 1e6
    return summary


def main() -> None:
    ctx = context()
    workers = children(ctx.gunicorn_pid)
    split = sanity(ctx)
    log(f"router: {SANITY_CALLERS} callers split {split}; warming up both views")
    for name, path in VIEWS.items():  # every worker builds its routing table on first use
        wrk(ctx, name, path, seconds=2, connections=CONNECTIONS)

    rounds, errors = [], 0
    for n in range(ROUNDS):
        order = ["healthz", "assign"] if n % 2 == 0 else ["assign", "healthz"]
        got = {name: measure(ctx, workers, name, ROUND_SECONDS, CONNECTIONS) for name in order}
        h, a = got["healthz"], got["assign"]
        errors += h["errors"] + a["errors"]
        rounds.append(
            {
                "round": n + 1,
                "first": order[0],
                "healthz_rps": round(h["rps"], 1),
                "assign_rps": round(a["rps"], 1),
                "ratio": round(a["rps"] / h["rps"], 4),
                "healthz_cpu_us": round(h["cpu_us"], 1),
                "assign_cpu_us": round(a["cpu_us"], 1),
                "cpu_ratio": round(h["cpu_us"] / a["cpu_us"], 4),
                "healthz_wait_us": round(h["wait_us"], 1),
                "assign_wait_us": round(a["wait_us"], 1),
                "wrk_cpu_us": round((h["client_cpu_us"] + a["client_cpu_us"]) / 2, 1),
            }
        )
        log(
            f"router: round {n + 1}/{ROUNDS}: /healthz {h['rps']:,.0f}/s "
            f"({h['cpu_us']:,.0f} µs CPU each), assignments {a['rps']:,.0f}/s "
            f"({a['cpu_us']:,.0f} µs CPU each), ratio {a['rps'] / h['rps']:.3f}"
        )

    max_rate = median([r["assign_rps"] for r in rounds])
    rate = max_rate * LATENCY_SHARE
    connections = len(workers)  # one per sync worker: see bench/lua/paced.lua
    log(f"router: latency at {rate:,.0f} assignments/s (half the maximum), {LATENCY_SECONDS:g} s")
    before, waited = cpu_seconds(workers), runqueue_wait_seconds(workers)
    latency = wrk(
        ctx, "paced", VIEWS["assign"], seconds=LATENCY_SECONDS, connections=connections, rate=rate
    )
    answered = max(latency["requests"], 1)
    latency["cpu_us"] = (cpu_seconds(workers) - before) / answered * 1e6
    latency["wait_us"] = (runqueue_wait_seconds(workers) - waited) / answered * 1e6
    errors += latency["errors"]
    p50, p99 = latency["p50_us"] / 1000, latency["p99_us"] / 1000
    log(
        f"router: {latency['rps']:,.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"{latency['late']} sent late; workers waited for a core {latency['wait_us']:,.0f} µs "
        "per request"
    )

    save(
        Result(
            "router",
            [
                Figure(
                    "assignments/s ÷ /healthz/s (median of the per-round ratios)",
                    median([r["ratio"] for r in rounds]),
                    "",
                    (">=", 0.9),
                    2,
                ),
                Figure(
                    f"assignments/s (median of {ROUNDS} rounds, {CONNECTIONS} connections)",
                    max_rate,
                    "req/s",
                ),
                Figure(
                    f"/healthz/s (median of {ROUNDS} rounds, {CONNECTIONS} connections)",
                    median([r["healthz_rps"] for r in rounds]),
                    "req/s",
                ),
                Figure(
                    "worker CPU per request: /healthz ÷ assignment (median)",
                    median([r["cpu_ratio"] for r in rounds]),
                    "",
                    None,
                    2,
                ),
                Figure(
                    "worker CPU per assignment (median)",
                    median([r["assign_cpu_us"] for r in rounds]),
                    "µs",
                ),
                Figure(
                    "worker CPU per /healthz (median)",
                    median([r["healthz_cpu_us"] for r in rounds]),
                    "µs",
                ),
                Figure(
                    f"assignment p50 at {latency['rps']:,.0f} req/s (half the maximum)",
                    p50,
                    "ms",
                    None,
                    2,
                ),
                Figure(
                    f"assignment p99 at {latency['rps']:,.0f} req/s (half the maximum)",
                    p99,
                    "ms",
                    ("<=", 10),
                    2,
                ),
                Figure(
                    "time a worker waited for a core, per assignment, at half max",
                    latency["wait_us"] / 1000,
                    "ms",
                    None,
                    2,
                ),
                Figure("failed requests (socket errors, non-2xx, timeouts)", errors, "", ("<=", 0)),
            ],
            {
                "rounds": rounds,
                "round_seconds": ROUND_SECONDS,
                "connections": CONNECTIONS,
                "workers": len(workers),
                "sanity_split": split,
                "latency": {
                    "goal_rps": round(rate, 1),
                    "connections": connections,
                    "late": latency["late"],
                    "seconds": LATENCY_SECONDS,
                    "rps": round(latency["rps"], 1),
                    "requests": latency["requests"],
                    "p50_ms": p50,
                    "p90_ms": latency["p90_us"] / 1000,
                    "p99_ms": p99,
                    "max_ms": latency["max_us"] / 1000,
                    "cpu_us": round(latency["cpu_us"], 1),
                    "wait_us": round(latency["wait_us"], 1),
                },
            },
        )
    )


def markdown(details: dict) -> str:
    lines = [
        f"Router rounds ({details['round_seconds']:g} s per view, wrk with 1 thread and "
        f"{details['connections']} connections; the view measured first alternates. From /proc: "
        f"CPU is the {details['workers']} workers' user + system time per request; waited is "
        "their time ready to run but waiting for a core, held by wrk, the other worker or "
        "other work on the machine, per request):",
        "",
        "| round | first | /healthz req/s | assignments req/s | ratio "
        "| CPU µs /healthz | CPU µs assignment | waited µs /healthz | waited µs assignment |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['round']} | {r['first']} | {r['healthz_rps']:,.0f} | {r['assign_rps']:,.0f} "
        f"| {r['ratio']:.3f} | {r['healthz_cpu_us']:,.0f} | {r['assign_cpu_us']:,.0f} "
        f"| {r['healthz_wait_us']:,.0f} | {r['assign_wait_us']:,.0f} |"
        for r in details["rounds"]
    ]
    wrk_cpu = median([r["wrk_cpu_us"] for r in details["rounds"]])
    lat = details["latency"]
    lines += [
        "",
        f"wrk itself used {wrk_cpu:,.0f} µs of CPU per request (median over the rounds).",
        "",
        f"Latency: wrk paced at half the maximum, {lat['goal_rps']:,.0f} assignments/s, over "
        f"{lat['connections']} connections (one per worker); {lat['late']:,} requests left more "
        f"than 1 ms after their due time. Over {lat['seconds']:g} s, "
        f"{lat['requests']:,} requests at {lat['rps']:,.0f}/s: p50 {lat['p50_ms']:.2f} ms, p90 "
        f"{lat['p90_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms; worker "
        f"CPU {lat['cpu_us']:,.0f} µs and wait for a core {lat['wait_us']:,.0f} µs per request.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
