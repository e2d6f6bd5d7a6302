"""What the benchmarks share: the run's context, figures and their targets, /proc readings,
and wrk.

A benchmark is a module `bench/<name>.py` whose `main()` reads `context()`, measures, and
calls `save(Result(name, figures, details))`; `bench/run` runs each one in its own process
(never inside the web server) and `bench/report.py` prints and records what they saved.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class Context:
    """Where the server is and what was seeded; set by `bench/run` in the environment."""

    tmp: Path
    host: str
    port: int
    key: str
    agent: str
    experiment: int
    variants: dict[str, int]
    gunicorn_pid: int
    database_url: str
    workers: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def context() -> Context:
    tmp = Path(os.environ["BENCH_TMP"])
    seed = json.loads((tmp / "seed.json").read_text())
    return Context(
        tmp=tmp,
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        key=os.environ["BENCH_KEY"],
        agent=seed["agent"],
        experiment=seed["experiment"],
        variants=seed["variants"],
        gunicorn_pid=int(os.environ["BENCH_GUNICORN_PID"]),
        database_url=os.environ["DATABASE_URL"],
        workers=int(os.environ["BENCH_WORKERS"]),
    )


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass
class Figure:
    """One measured figure; `target` is (">=" or "<=", number) or None when only reported."""

    label: str
    value: float
    unit: str = ""
    target: tuple[str, float] | None = None
    digits: int = 0

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        op, bound = self.target
        ok = self.value >= bound if op == ">=" else self.value <= bound
        return "PASS" if ok else "FAIL"


@dataclass
class Result:
    name: str
    figures: list[Figure]
    details: dict = field(default_factory=dict)


def save(result: Result) -> None:
    folder = Path(os.environ["BENCH_TMP"]) / "results"
    folder.mkdir(exist_ok=True)
    (folder / f"{result.name}.json").write_text(json.dumps(asdict(result), indent=1))


def print_and_save(name: str, details: dict, markdown, figures) -> None:
    """For a benchmark that also runs alone (no server): print its record, and save its
    figures when `bench/run` runs it (BENCH_TMP set)."""
    print(markdown(details), flush=True)
    if os.environ.get("BENCH_TMP"):
        save(Result(name, figures(details), details))


def load(tmp: Path, name: str) -> Result | None:
    path = tmp / "results" / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    figures = [
        Figure(**{**f, "target": tuple(f["target"]) if f["target"] else None})
        for f in data["figures"]
    ]
    return Result(data["name"], figures, data["details"])


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def wait_ready(url: str, seconds: float = 30) -> None:
    """Until GET url answers 200, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {url} did not answer within {seconds:.0f} s")
        time.sleep(0.1)


# -- /proc ---------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 onwards."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(parent: int) -> list[int]:
    """Processes whose parent is `parent` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(_stat_fields(int(stat.parent.name))[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # the process ended while we looked
            continue
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def runqueue_wait_seconds(pids: list[int]) -> float:
    """Time the processes spent ready to run but waiting for a core (/proc/<pid>/schedstat):
    on a machine shared with other work, this is the delay the neighbours cost us."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def machine_busy(seconds: float) -> float:
    """Share of all cores busy over `seconds`, from /proc/stat (0..1)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + values[4]  # idle, iowait
        return sum(values[:8]) - idle, sum(values[:8])

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(total1 - total0, 1)


# -- wrk ---------------------------------------------------------------------------------------


def wrk(
    ctx: Context,
    script: str,
    path: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    rate: float | None = None,
) -> dict:
    """Run wrk with bench/lua/<script>.lua; returns its summary (requests/s, latency, errors).
    `rate` is for paced.lua: requests per second per thread."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (bench/run installs it)")
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA), "BENCH_AGENT": ctx.agent}
    if rate is not None:
        env["BENCH_RATE"] = f"{rate:.3f}"
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=5s",
        f"--script={LUA / script}.lua",
        f"{ctx.url}{path}",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH-WRK ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    summary = json.loads(line.removeprefix("BENCH-WRK "))
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    summary["errors"] = sum(v for k, v in summary.items() if k.endswith(("_errors", "timeouts")))
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary["client_cpu_us"] = client / max(summary["requests"], 1) * 1e6
    return summary
