"""Print the figures the benchmarks saved, with their targets; with --record, also write them
into docs/benchmarks.md between its two marker lines (the text around them is left alone).

A benchmark module may define `markdown(details) -> str` to add its own detail to the record.
"""

import argparse
import importlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench.lib import Figure, load

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results -->", "<!-- /bench:results -->"
COMMAND = "make bench BENCH_ARGS=--record"


def value_text(figure: Figure) -> str:
    text = f"{figure.value:,.{figure.digits}f}"
    return f"{text} {figure.unit}".strip()


def target_text(figure: Figure) -> str:
    if figure.target is None:
        return "—"
    op, bound = figure.target
    bound_text = f"{bound:,.{figure.digits}f}" if bound != int(bound) else f"{int(bound):,}"
    return f"{'≥' if op == '>=' else '≤'} {bound_text} {figure.unit}".strip()


def rows(results) -> list[tuple[str, str, str, str, str]]:
    return [
        (r.name, f.label, value_text(f), target_text(f), f.verdict or "—")
        for r in results
        for f in r.figures
    ]


def _run(*command: str) -> str:
    if shutil.which(command[0]) is None:
        return "?"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout or done.stderr).strip()


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]+)', os_release, re.M)
    postgres = _run(
        "psql", os.environ.get("DATABASE_URL", ""), "-tAc", "SHOW server_version"
    ).split(" ")[0]
    redis = re.search(r"redis_version:(\S+)", _run("redis-cli", "INFO", "server"))
    gunicorn = _run(str(Path(sys.executable).parent / "gunicorn"), "--version")
    gunicorn = re.sub(r"\(version ([^)]*)\)", r"\1", gunicorn)
    wrk = " ".join(_run("wrk", "-v").split()[:2])
    return {
        "cores": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{pretty.group(1) if pretty else platform.system()}, Linux {platform.release()}",
        "software": (
            f"Python {platform.python_version()}, PostgreSQL {postgres}, "
            f"Redis {redis.group(1) if redis else '?'}, {gunicorn}, {wrk}"
        ),
        "date": _run("date"),
    }


def table(lines: list[tuple[str, ...]]) -> str:
    head = ("benchmark", "figure", "value", "target", "result")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


def markdown(results, info: dict[str, str], failed: list[str], warnings: list[str]) -> str:
    out = [
        f"Measured {info['date']} with `{COMMAND}`.",
        "",
        f"- Machine: {info['cores']} cores, {info['cpu']}, {info['memory']} memory",
        f"- OS: {info['os']}",
        f"- Software: {info['software']}",
        "",
        "| benchmark | figure | value | target | result |",
        "|---|---|---:|---|---|",
        *(f"| {' | '.join(line)} |" for line in rows(results)),
    ]
    if failed:
        out += ["", f"Did not finish: {', '.join(failed)}."]
    out += [f"\nWarning: {w}" for w in warnings]
    for result in results:
        module = importlib.import_module(f"bench.{result.name}")
        if hasattr(module, "markdown"):
            out += ["", module.markdown(result.details).rstrip()]
    return "\n".join(out) + "\n"


def record(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = f"{before}{BEGIN}\n{block}{END}{after}"
    else:
        text = f"{text.rstrip()}\n\n{BEGIN}\n{block}{END}\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--benchmarks", required=True)
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--failed", default="")
    args = parser.parse_args()
    tmp = Path(os.environ["BENCH_TMP"])
    results = [r for name in args.benchmarks.split() if (r := load(tmp, name)) is not None]
    failed = args.failed.split()
    info = machine()
    warnings_file = tmp / "warnings"
    warnings = warnings_file.read_text().splitlines() if warnings_file.exists() else []
    print()
    print(table(rows(results)))
    print()
    print(f"{info['cores']} cores, {info['cpu']}, {info['memory']}; {info['os']}; {info['date']}")
    verdicts = [f.verdict for r in results for f in r.figures]
    for warning in warnings:
        print(f"bench: WARNING: {warning}")
    if failed:
        print(f"bench: did not finish: {', '.join(failed)} (see the messages above)")
    if args.record:
        record(markdown(results, info, failed, warnings))
        print("bench: recorded in docs/benchmarks.md")
    if failed or (args.strict and "FAIL" in verdicts):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
