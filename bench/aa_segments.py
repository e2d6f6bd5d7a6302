"""A/A for segments: the goal per group (hour of day, who ended the call) through the page's
own statistics, look after look.

Each experiment has two identical arms. Its callers fall into groups at random (24 hours by a
daily profile or evenly; 5 "ended by" values, uneven), and at each of 100 looks the table of
apps/results/segment_table.py is computed exactly as the page does: per group and arm, the
callers' RatioStats per phase of the split -> `ratio_moments` -> `Group`, then
`compare_groups(groups, ALPHA, tuning=<the experiment's default>)` (Bonferroni over the
groups, phases combined by `stratified`, always-valid ranges) and `directions(...)` as
`_warnings` uses it. An experiment counts when, at any look, some group's range of the
absolute change excluded zero (the page would write "B converts ... better/worse" with a
range wholly on one side), and when the "opposite directions" warning showed. Target: each
at most 5% (the family-wise alpha).

Data (as bench/aa_table.py's repeat callers): new callers each look, split between the arms
by their phase's split (multinomial); 30% call 3-10 times within 10 looks of their first
call, the rest once; a caller's calls convert at the caller's own propensity ~ Beta(10 p,
10 (1 - p)), p the base rate of the phase of their first call. A caller is one unit, in the
group, arm and phase of their first call, with value = their calls' conversions and weight
= their number of calls (RatioStats num/den, as apps/results/aggregation.py sums them).
Seeded per (scenario, experiment): the first N experiments are the same whatever N. About
400 CPU seconds at the default 500 experiments per scenario (5 minutes on two shared cores);
BENCH_AA_SEGMENT_EXPERIMENTS=N (or --experiments N) runs N instead.

    PYTHONPATH=. .venv/bin/python -m bench.aa_segments
    PYTHONPATH=. .venv/bin/python -m bench.aa_segments --experiments 50 --scenario hours-1
"""

import argparse
import math
import os
import time
import zlib
from dataclasses import dataclass
from multiprocessing import get_context

import numpy as np

from bench.aa_ratio import _running
from bench.aa_table import LOOKS, _django, callers, tally

SEED = 20261206
EXPERIMENTS = 500
TARGET = 0.05
REPEAT, CALLS, WITHIN = 0.3, (3, 10), 10  # share of repeat callers, their calls, looks apart
CONCENTRATION = 10  # a caller's propensity ~ Beta(c p, c (1 - p))
COMMAND = "PYTHONPATH=. .venv/bin/python -m bench.aa_segments"


def _hours(profile: bool) -> tuple[tuple[str, float], ...]:
    """The 24 hours' labels (as the page writes them) and shares of the callers: even, or a
    daily profile from 0.6% of the callers at night to 12.6% at 13:00."""
    weight = [1 + (19 * math.exp(-(((h - 13) / 4) ** 2)) if profile else 0) for h in range(24)]
    return tuple((f"{h}:00\u2013{h}:59", w / sum(weight)) for h, w in enumerate(weight))


HOURS, EVEN_HOURS = _hours(True), _hours(False)
ENDED_BY = (
    ("The caller hung up", 0.55),
    ("The agent ended the call", 0.30),
    ("Transferred to a person", 0.08),
    ("Not reported", 0.05),
    ("An error ended the call", 0.02),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    groups: tuple[tuple[str, float], ...]  # (label, share of the callers)
    rates: tuple[float, ...] = (0.01,)  # base rate per phase
    units_per_look: int = 2000  # new callers per look, both arms
    splits: tuple[tuple[int, ...], ...] = ((50, 50),)  # percent per arm, one per phase
    phase_from: tuple[int, ...] = (0,)  # the look each phase starts at
    lift: tuple[float, ...] = ()  # per group, the variant's relative lift (tests; A/A: none)


def scenarios() -> list[Scenario]:
    """Callers per look: 20 / p, as aa_table's baselines: by the last look 100,000 callers per
    arm at 1% (50,000 at 2%), about 2,600 converted calls per arm either way; the smallest hour
    has about 13 callers at the first look, the error group 40."""
    split = {"splits": ((50, 50), (20, 80)), "phase_from": (0, 40)}
    return [
        Scenario("hours-1", "24 hours, daily profile, 1%, 50/50", HOURS),
        Scenario("hours-2-even", "24 hours, even, 2%, 50/50", EVEN_HOURS, (0.02,), 1000),
        Scenario(
            "hours-split-change",
            "24 hours, daily profile: 50/50 at 1%, then 20/80 at 2% from look 40",
            HOURS,
            (0.01, 0.02),
            **split,
        ),
        Scenario("ended-by-1", "5 ended-by values (55/30/8/5/2%), 1%, 50/50", ENDED_BY),
        Scenario(
            "ended-by-2-split-change",
            "5 ended-by values (55/30/8/5/2%), 2%: 50/50, then 20/80 from look 40",
            ENDED_BY,
            (0.02, 0.02),
            1000,
            **split,
        ),
    ]


# -- data: cumulative RatioStats per look, group, arm and phase --------------------------------


def segment_calls(rng, sc: Scenario) -> dict[str, np.ndarray]:
    """Every call seen by the last look, grouped by caller in call order: its caller, look, the
    caller's group, arm and phase, whether it is the caller's first, and whether it converted."""
    look0, arm0, phase_of = callers(rng, sc)
    shares = np.array([share for _, share in sc.groups])
    group0 = rng.choice(shares.size, look0.size, p=shares / shares.sum())
    rate = np.array(sc.rates)[phase_of[look0]]
    if sc.lift:
        rate = rate * (1 + np.array(sc.lift)[group0] * (arm0 == 1))
    propensity = rng.beta(CONCENTRATION * rate, CONCENTRATION * (1 - rate))
    repeat = rng.integers(CALLS[0], CALLS[1] + 1, look0.size)
    calls = np.where(rng.random(look0.size) < REPEAT, repeat, 1)
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    offset = np.where(first, 0, rng.integers(0, WITHIN, who.size))
    look = look0[who] + offset[np.lexsort((offset, who))]  # in call order within a caller
    converted = rng.random(who.size) < propensity[who]
    seen = look < LOOKS
    out = dict(who=who, look=look, group=group0[who], arm=arm0[who], first=first)
    out |= dict(phase=phase_of[look0][who], converted=converted)
    return {k: v[seen] for k, v in out.items()}


def draw(rng, sc: Scenario) -> np.ndarray:
    """cum[look, group, arm, phase] = (units, num, num^2, den, den^2, num*den) over the callers
    seen by that look: a caller's num and den are the sums over their calls so far."""
    c = segment_calls(rng, sc)
    value, first = c["converted"].astype(float), c["first"]
    num, den = _running(first, value), _running(first, np.ones(value.size))
    groups, phases = len(sc.groups), len(sc.splits)
    where = (c["look"], c["group"] * 2 + c["arm"], c["phase"])  # (group, arm) as tally's arm
    cum = tally((LOOKS, groups * 2, phases), *where, first, num, den, num - value, den - 1)
    return cum.reshape(LOOKS, groups, 2, phases, 6)


# -- analysis: the page's statistics at every look ---------------------------------------------


def _phases(cell: list) -> dict:
    """As segment_table._phases: the phases where this (group, arm) has units."""
    from apps.stats.ratio import ratio_moments
    from apps.stats.types import RatioStats

    return {k: ratio_moments(RatioStats(int(r[0]), *r[1:])) for k, r in enumerate(cell) if r[0]}


def page_groups(sc: Scenario, at: list) -> list:
    """One look's `Group`s as segment_table._table builds them; `at` is cum[look].tolist()."""
    from apps.stats.segments import Group

    return [
        Group(label, _phases(arms[0]), [("B", _phases(arms[1]))])
        for (label, _), arms in zip(sc.groups, at, strict=True)
    ]


def excludes_zero(result) -> bool:
    """The page's sentence calls the change better or worse with a range wholly on one side."""
    a = result.comparison.absolute
    return a.ok and (a.ci_low > 0 or a.ci_high < 0)


def looks(sc: Scenario, cum: np.ndarray, alpha: float, tuning: float) -> list[tuple[bool, bool]]:
    """Per look: (some group's range excluded zero, the opposite-directions warning showed)."""
    from apps.stats.segments import compare_groups, directions

    labels = [label for label, _ in sc.groups]
    out = []
    for at in cum.tolist():
        results = compare_groups(page_groups(sc, at), alpha, tuning=tuning)
        mine = [r[0] for r in results]  # the one variant's result in each group
        out.append((any(map(excludes_zero, mine)), directions(labels, mine).opposite))
    return out


def page_settings() -> tuple[float, float]:
    """The level the results page uses and a new experiment's default N*."""
    from apps.experiments.models import Experiment
    from apps.results.analysis import ALPHA

    return ALPHA, float(Experiment._meta.get_field("sequential_tuning").default)


def run_chunk(task) -> tuple[str, dict[str, float]]:
    sc, start, stop = task
    alpha, tuning = page_settings()
    started = time.process_time()
    totals = dict.fromkeys(("excluded", "opposite", "excluded_last", "opposite_last"), 0)
    for experiment in range(start, stop):
        rng = np.random.default_rng([SEED, zlib.crc32(sc.name.encode()), experiment])
        flags = looks(sc, draw(rng, sc), alpha, tuning)
        totals["excluded"] += any(e for e, _ in flags)
        totals["opposite"] += any(o for _, o in flags)
        totals["excluded_last"] += flags[-1][0]
        totals["opposite_last"] += flags[-1][1]
    return sc.name, {**totals, "cpu_seconds": time.process_time() - started}


def simulate(chosen: list[Scenario], experiments: int, workers: int) -> dict:
    chunk = 10
    tasks = [
        (sc, i, min(i + chunk, experiments)) for sc in chosen for i in range(0, experiments, chunk)
    ]
    totals = {sc.name: {} for sc in chosen}
    with get_context("fork").Pool(workers, initializer=_django) as pool:
        for name, counts in pool.imap_unordered(run_chunk, tasks):
            for key, n in counts.items():
                totals[name][key] = totals[name].get(key, 0) + n
    return {
        sc.name: {
            "label": sc.label,
            "groups": len(sc.groups),
            "experiments": experiments,
            "units": sc.units_per_look * LOOKS,
            **totals[sc.name],
        }
        for sc in chosen
    }


# -- the record ---------------------------------------------------------------------------------


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a share k / n (scipy's binomtest)."""
    from scipy.stats import binomtest

    interval = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return interval.low, interval.high


def _share(row: dict, key: str) -> str:
    low, high = wilson(row[key], row["experiments"])
    mark = " ✗" if row[key] / row["experiments"] > TARGET else ""
    return f"{row[key] / row['experiments']:.2%} ({low:.1%} to {high:.1%}){mark}"


def markdown(details: dict) -> str:
    rows = [
        f"| {r['label']} (`{name}`) | {r['groups']} | {r['experiments']:,} | {r['units']:,} "
        f"| **{_share(r, 'excluded')}** | {_share(r, 'excluded_last')} "
        f"| **{_share(r, 'opposite')}** | {_share(r, 'opposite_last')} | {r['cpu_seconds']:,.0f} |"
        for name, r in details["rows"].items()
    ]
    head = (
        f"A/A segments through `compare_groups()` and `directions()`, the segment table's "
        f"statistics, {LOOKS} looks evenly spaced, repeat callers, seed {SEED} "
        f"({details['seconds']:.0f} s on {details['workers']} processes; "
        f"`{details['command']}`). In brackets: Wilson 95% intervals. ✗: above the target "
        f"({TARGET:.0%}).",
        "",
        "| scenario | groups | experiments | callers at the end, both arms "
        "| a group's range excluded 0, any look | at the last look "
        "| opposite-directions warning, any look | at the last look | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    )
    return "\n".join([*head, *rows]) + "\n"


def figures(details: dict) -> list:
    """Per scenario: the share of experiments with a false clear group, and with the warning."""
    from bench.lib import Figure

    out = []
    for name, r in details["rows"].items():
        n = r["experiments"]
        for key, what in (
            ("excluded", "a group's range excluded 0"),
            ("opposite", "opposite-directions warning"),
        ):
            low, high = wilson(r[key], n)
            label = (
                f"A/A {name}: {what}, {LOOKS} looks ({r[key]} of {n}, 95% {low:.1%} to {high:.1%})"
            )
            out.append(Figure(label, 100 * r[key] / n, "%", ("<=", 100 * TARGET), 2))
    return [*out, Figure("time for the A/A segments", details["seconds"], "s", None, 0)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = int(os.environ.get("BENCH_AA_SEGMENT_EXPERIMENTS") or EXPERIMENTS)
    parser.add_argument(
        "--experiments", type=int, default=default, help=f"per scenario ({EXPERIMENTS})"
    )
    parser.add_argument("--scenario", action="append", help="a name; repeatable")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    every = scenarios()
    chosen = [s for s in every if not args.scenario or s.name in args.scenario]
    if not chosen:
        parser.error(f"no such scenario; they are: {', '.join(s.name for s in every)}")
    if args.experiments < 1:
        parser.error("--experiments must be at least 1")
    _django()
    started = time.perf_counter()
    rows = simulate(chosen, args.experiments, args.workers)
    options = [f"--experiments {args.experiments}"] * (args.experiments != EXPERIMENTS)
    command = " ".join([COMMAND, *options, *(f"--scenario {p}" for p in args.scenario or ())])
    details = {
        "rows": rows,
        "seed": SEED,
        "seconds": time.perf_counter() - started,
        "workers": args.workers,
        "command": command,
    }
    from bench.lib import print_and_save

    print_and_save("aa_segments", details, markdown, figures)


if __name__ == "__main__":
    main()
