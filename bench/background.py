"""Background: how busy the machine is before the benchmarks start (gunicorn idle).

The figures of a run on a machine shared with other work are lower than on a quiet one; this
says by how much the cores were taken when the run began, so runs can be compared fairly.
"""

import os
import time
from pathlib import Path

from bench.lib import Figure, Result, env_number, log, machine_busy, save

SECONDS = env_number("BENCH_BACKGROUND_SECONDS", 3)
# Wait up to this long for the cores to be at most QUIET busy before starting (0: do not wait).
WAIT = env_number("BENCH_WAIT_QUIET", 0)
QUIET = 0.25


def main() -> None:
    deadline = time.monotonic() + WAIT
    busy = machine_busy(SECONDS)
    while busy > QUIET and time.monotonic() < deadline:
        log(f"background: cores {busy:.0%} busy; waiting for a quieter moment")
        busy = machine_busy(SECONDS)
    load = Path("/proc/loadavg").read_text().split()[:3]
    log(f"background: cores {busy:.0%} busy before the run, load average {' '.join(load)}")
    save(
        Result(
            "background",
            [
                Figure(
                    f"CPU busy with other work before the run ({os.cpu_count()} cores)",
                    busy * 100,
                    "%",
                ),
                Figure("load average (1 min) before the run", float(load[0]), "", None, 2),
            ],
            {"busy": busy, "loadavg": load, "seconds": SECONDS},
        )
    )


if __name__ == "__main__":
    main()
