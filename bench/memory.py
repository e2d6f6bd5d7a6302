"""Memory: the peak resident set (VmHWM in /proc/<pid>/status) of each gunicorn web worker.

Run last, so the peak covers everything the benchmarks before it made the workers do
(ingestion parses 1 MB batches). Reported only; there is no target yet.
"""

from pathlib import Path

from bench.lib import Figure, Result, children, context, log, save


def status_kib(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise SystemExit(f"bench: no {name} for process {pid}")


def main() -> None:
    ctx = context()
    workers = children(ctx.gunicorn_pid)
    if not workers:
        raise SystemExit(f"bench: gunicorn {ctx.gunicorn_pid} has no workers")
    peaks = {pid: status_kib(pid, "VmHWM") for pid in workers}
    now = {pid: status_kib(pid, "VmRSS") for pid in workers}
    master = status_kib(ctx.gunicorn_pid, "VmHWM")
    log(f"memory: worker peaks (KiB) {peaks}, master {master}")
    save(
        Result(
            "memory",
            [
                Figure(
                    "peak RSS of a web worker (VmHWM, the largest)",
                    max(peaks.values()) / 1024,
                    "MiB",
                    None,
                    1,
                ),
                Figure(
                    "RSS of a web worker at the end (VmRSS, the largest)",
                    max(now.values()) / 1024,
                    "MiB",
                    None,
                    1,
                ),
            ],
            {
                "workers": len(workers),
                "peak_kib": list(peaks.values()),
                "rss_kib": list(now.values()),
                "master_peak_kib": master,
            },
        )
    )


def markdown(details: dict) -> str:
    peaks = ", ".join(f"{k / 1024:.1f}" for k in details["peak_kib"])
    return (
        f"Memory: peak RSS (VmHWM) of the {details['workers']} workers {peaks} MiB; "
        f"the gunicorn master {details['master_peak_kib'] / 1024:.1f} MiB."
    )


if __name__ == "__main__":
    main()
