"""A/A and power through `apps.results.analysis.analyse()`, the function the results page uses.

Every scenario of issue 11 is simulated as experiments whose arms are identical in truth,
and each experiment is analysed look after look as the page does: the previous look's
`result.running` goes into `Setup(previous=...)`, so a verdict cannot flip back. An
experiment counts as a false winner if any variant's verdict is "winning" or
"guardrail_pending" at any look, a false loser if "losing", "changed" if its always-valid
range became empty, an SRM false alarm if `result.srm.flagged`; "any" is any of the
first three. Power: the variant converts 20% better, looks up to the planned size.

Data: per-unit sufficient statistics drawn with NumPy, new units split between the arms at
random (multinomial) by the split of their phase; a caller's statistics are the sums over
their calls (`apps.results.aggregation`), counted in the phase of their first call. Seeded
per (scenario, experiment): the first N experiments are the same whatever N and however
many processes run them. About 5,800 CPU seconds for every row (the issue 11 rows 2,200, the
CUPED, ratio and duration rows of issue 12 the rest, summed from their CPU s columns): ~50 min
on two free cores.
Under `make bench` (BENCH_TMP set) it also saves its figures for the report;
BENCH_AA_EXPERIMENTS=N runs N experiments per row instead.

    PYTHONPATH=. .venv/bin/python -m bench.aa_table                  # the whole table
    PYTHONPATH=. .venv/bin/python -m bench.aa_table --experiments 100 --scenario conversion
"""

import argparse
import os
import time
import zlib
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np

SEED = 20261129
LOOKS = 100
MIN_CALLS, TUNING = 100, 5000  # the default experiment's
MIN_LIFT = {
    "conversion": 0.05,
    "duration": 0.05,
    "sentiment": 0.05,
    "latency_p95": 0.05,
    "tool_success_rate": 0.05,
}
KEYS = ("control", "b", "c")
TARGETS = {"any": 0.05, "srm": 0.002, "power": 0.80}
COMMAND = "PYTHONPATH=. .venv/bin/python -m bench.aa_table"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    goal: str = "conversion"
    direction: str = "higher"
    units_per_look: int = 200  # new units (callers) per look, all arms together
    splits: tuple[tuple[int, ...], ...] = ((50, 50),)  # percent per arm, one per phase
    phase_from: tuple[int, ...] = (0,)  # the look each phase starts at
    rates: tuple[tuple[float, ...], ...] = ((0.1, 0.1),)  # per phase and arm (conversion)
    experiments: int = 2000
    # "once": one call per caller; "repeat"; "optimize"; "quantile"; "history"; "ratio"
    kind: str = "once"
    cuped: bool = False  # analyse with the callers' history (kind "history" only)
    seed_as: str = ""  # draw the data of this scenario instead (a row with and without CUPED)
    lift: float = 0.0  # the last arm's relative lift (power)
    plan: int = 0  # units per arm planned, for the power rows (0: an A/A row)


def scenarios() -> list[Scenario]:
    """The table's rows. Horizons: 10,000 units per arm, and at low baselines enough for
    1,000 expected conversions per arm by the last look, so that chance has room to look
    significant; the power rows end at the planned size. 1,000 experiments where a row costs
    more (three arms, 100 phases, CUPED) or needs less precision."""
    plan, plan_repeat = planned_sizes()
    a_a = [
        Scenario(
            f"conversion-{round(p * 100)}",
            f"conversion at {p:.0%}, 50/50",
            rates=((p, p),),
            units_per_look=2 * max(100, round(10 / p)),
        )
        for p in (0.01, 0.02, 0.05, 0.10, 0.20, 0.50)
    ]
    return [
        *a_a,
        Scenario(
            "duration", "duration, lognormal (median 180 s, sigma 0.7), lower", "duration", "lower"
        ),
        Scenario("sentiment", "sentiment, normal(0.1, 0.45) clipped to -1..1", "sentiment"),
        Scenario(
            "repeat-callers",
            "repeat callers (30% call 3-10 times), caller mode, ~5%",
            kind="repeat",
        ),
        Scenario(
            "latency-p95-repeat-callers",
            "p95 response time, repeat callers (30% call 3-10 times), caller mode, lower",
            "latency_p95",
            "lower",
            kind="quantile",
            experiments=1000,
        ),
        *ratio_scenarios(),
        Scenario(
            "three-arms",
            "three arms 34/33/33 at 10%",
            units_per_look=300,
            splits=((34, 33, 33),),
            rates=((0.1,) * 3,),
            experiments=1000,
        ),
        Scenario(
            "one-percent-arm",
            "a 1% arm: 99/1 at 10%",
            units_per_look=1000,
            splits=((99, 1),),
            experiments=1000,
        ),
        Scenario(
            "split-change",
            "split change: 50/50 at 10%, then 10/90 at 15%",
            splits=((50, 50), (10, 90)),
            phase_from=(0, LOOKS // 2),
            rates=((0.10, 0.10), (0.15, 0.15)),
            experiments=1000,
        ),
        Scenario(
            "optimize-drift",
            "optimize mode (Thompson, hourly), rate 7% -> 13%",
            kind="optimize",
            experiments=1000,
        ),
        *history_scenarios(),
        Scenario(
            "power",
            "conversion 10% -> 12%, 50/50",
            units_per_look=-(-2 * plan // LOOKS),
            lift=0.2,
            plan=plan,
            experiments=1000,
        ),
        Scenario(
            "power-repeat-callers",
            "repeat callers, caller mode, 5% -> 6%",
            units_per_look=-(-2 * plan_repeat // LOOKS),
            kind="repeat",
            lift=0.2,
            plan=plan_repeat,
            experiments=1000,
        ),
    ]


def ratio_scenarios() -> list[Scenario]:
    """Tool success rate (a ratio, delta method) on repeat callers making 0-4 tool calls a
    call, callers differing in how often their tools fail (bench/aa_ratio.py): 50/50, and a
    split change 50/50 then 10/90."""
    ratio = {"goal": "tool_success_rate", "kind": "ratio", "experiments": 1000}
    return [
        Scenario(
            "ratio-tool-success",
            "tool success rate (ratio), repeat callers, 0-4 tool calls a call, ~97%, 50/50",
            **ratio,
        ),
        Scenario(
            "ratio-tool-success-split-change",
            "tool success rate (ratio), repeat callers: 50/50, then 10/90",
            splits=((50, 50), (10, 90)),
            phase_from=(0, LOOKS // 2),
            **ratio,
        ),
    ]


def history_scenarios() -> list[Scenario]:
    """CUPED (apps/stats/cuped.py) on repeat callers, half of them with calls in the 30 days
    before (bench/aa_history.py). Conversion at 1-2%: A/A with it on, after a split change
    with a drift too, and power at +20% with and without it on the same data. Call duration
    with persistent caller effects (a caller's own typical length): the same, power at -5%
    (the default minimum lift)."""
    from bench.aa_history import planned_size

    plan = planned_size(0.02, 0.2)
    a_a = [
        Scenario(
            f"cuped-{round(p * 100)}",
            f"CUPED, repeat callers with history at {p:.0%}, 50/50",
            rates=((p, p),),
            units_per_look=2 * round(10 / p),
            kind="history",
            cuped=True,
            experiments=1000,
        )
        for p in (0.01, 0.02)
    ]
    power = {
        "kind": "history",
        "rates": ((0.02, 0.02),),
        "units_per_look": -(-2 * plan // LOOKS),
        "lift": 0.2,
        "plan": plan,
        "experiments": 500,
        "seed_as": "power-history",
    }
    return [
        *a_a,
        Scenario(
            "cuped-split-change",
            "CUPED, repeat callers with history: 50/50 at 1.5%, then 10/90 at 2%",
            splits=((50, 50), (10, 90)),
            phase_from=(0, LOOKS // 2),
            rates=((0.015, 0.015), (0.02, 0.02)),
            units_per_look=1000,
            kind="history",
            cuped=True,
            experiments=1000,
        ),
        Scenario("power-history", "repeat callers with history, 2% -> 2.4%, no CUPED", **power),
        Scenario("power-cuped", "the same callers and calls, with CUPED", cuped=True, **power),
        *duration_history_scenarios(),
    ]


def duration_history_scenarios() -> list[Scenario]:
    """Call duration with CUPED: median 180 s, callers differing (sigma 0.6) and their calls
    around their own length (sigma 0.4), half with 1-10 calls in the 30 days before."""
    from bench.aa_history import planned_size

    plan = planned_size(180.0, -0.05, "duration")
    duration = {"goal": "duration", "direction": "lower", "kind": "history", "experiments": 1000}
    power = {
        **duration,
        "rates": ((180.0, 180.0),),
        "units_per_look": -(-2 * plan // LOOKS),
        "lift": -0.05,
        "plan": plan,
        "seed_as": "power-duration-history",
    }
    return [
        Scenario(
            "cuped-duration",
            "CUPED, call duration, repeat callers with history, median 180 s, 50/50",
            rates=((180.0, 180.0),),
            cuped=True,
            **duration,
        ),
        Scenario(
            "cuped-duration-split-change",
            "CUPED, call duration with history: 50/50 at median 180 s, then 10/90 at 220 s",
            splits=((50, 50), (10, 90)),
            phase_from=(0, LOOKS // 2),
            rates=((180.0, 180.0), (220.0, 220.0)),
            cuped=True,
            **duration,
        ),
        Scenario(
            "power-duration-history",
            "call duration with history, 5% shorter in the variant, no CUPED",
            **power,
        ),
        Scenario(
            "power-duration-cuped", "the same callers and calls, with CUPED", cuped=True, **power
        ),
    ]


def planned_sizes() -> tuple[int, int]:
    """Units per arm planned for +20% at 10%, and for the repeat callers in callers, from
    their per-caller ratio variance (200,000 simulated callers): the planner's own function."""
    from apps.stats.planning import units_per_variant_for_goal
    from apps.stats.ratio import ratio_moments
    from apps.stats.types import RatioStats

    rng = np.random.default_rng(SEED)
    calls = np.where(rng.random(200_000) < 0.3, rng.integers(3, 11, 200_000), 1)
    num = rng.binomial(calls, rng.beta(0.5, 9.5, calls.size)).astype(float)
    sums = (num.sum(), (num**2).sum(), calls.sum(), (calls**2).sum(), (num * calls).sum())
    caller = ratio_moments(RatioStats(calls.size, *map(float, sums)))
    options = {"direction": "higher", "alpha": 0.05, "tuning": TUNING, "variants": 1}
    return (
        units_per_variant_for_goal("conversion", 0.10, 0.09, 0.20, **options),
        units_per_variant_for_goal("conversion", caller.mean, caller.variance, 0.20, **options),
    )


# -- data: cumulative sufficient statistics per look, arm and phase ----------------------------


@dataclass
class Trial:
    """cum[look, arm, phase] = (units, num, num^2, den, den^2, num*den) summed over units,
    as after that look; splits[k] the percent per arm of phase k, phases[look] how many
    phases had started by then."""

    cum: np.ndarray
    splits: list[tuple[int, ...]]
    phases: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    quantiles: list = field(default_factory=list)  # [look][arm]: QuantileStats (quantile rows)
    # units[look, arm, phase] = (callers, calls) when they differ from the metric's units
    # (a ratio: callers without a tool call are no unit of it but count in the split check)
    units: np.ndarray | None = None


def tally(shape, look, arm, phase, first, num, den, prev_num, prev_den) -> np.ndarray:
    """Each call's change to its caller's sums, added up per (look, arm, phase), cumulated."""
    index = np.ravel_multi_index((look, arm, phase), shape)
    parts = (
        first,
        num - prev_num,
        num**2 - prev_num**2,
        den - prev_den,
        den**2 - prev_den**2,
        num * den - prev_num * prev_den,
    )
    size = int(np.prod(shape))
    out = np.stack([np.bincount(index, p.astype(float), size) for p in parts], axis=-1)
    return np.cumsum(out.reshape(*shape, 6), axis=0)


def callers(rng, sc: Scenario):
    """New callers of each look, split at random by their phase's split: (look, arm)."""
    phase_of = np.searchsorted(sc.phase_from, np.arange(LOOKS), side="right") - 1
    shares = np.array(sc.splits, dtype=float)[phase_of] / 100
    counts = rng.multinomial(sc.units_per_look, shares)
    arms = counts.shape[1]
    look = np.repeat(np.repeat(np.arange(LOOKS), arms), counts.ravel())
    arm = np.repeat(np.tile(np.arange(arms), LOOKS), counts.ravel())
    return look, arm, phase_of


def draw_once(rng, sc: Scenario) -> Trial:
    look, arm, phase_of = callers(rng, sc)
    if sc.goal == "duration":
        value = rng.lognormal(np.log(180), 0.7, look.size)
    elif sc.goal == "sentiment":
        value = np.clip(rng.normal(0.1, 0.45, look.size), -1, 1)
    else:
        rate = np.array(sc.rates)[phase_of[look], arm] * (
            1 + sc.lift * (arm == len(sc.splits[0]) - 1)
        )
        value = (rng.random(look.size) < rate).astype(float)
    one, zero = np.ones(look.size), np.zeros(look.size)
    shape = (LOOKS, len(sc.splits[0]), len(sc.splits))
    cum = tally(shape, look, arm, phase_of[look], one, value, one, zero, zero)
    return Trial(cum, list(sc.splits), np.searchsorted(sc.phase_from, np.arange(LOOKS), "right"))


def draw_repeat(rng, sc: Scenario) -> Trial:
    """30% of callers call 3-10 times, the rest once; a caller's calls convert at their own
    propensity ~ Beta(0.5, 9.5) (mean 5%; x1.2 in the variant for power); repeat calls fall
    within 10 looks of the first (later than the last look: not seen)."""
    look0, arm0, _ = callers(rng, sc)
    calls = np.where(rng.random(look0.size) < 0.3, rng.integers(3, 11, look0.size), 1)
    propensity = rng.beta(0.5, 9.5, look0.size) * (1 + sc.lift * (arm0 == 1))
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    offset = np.where(first, 0, rng.integers(0, 10, who.size))
    order = np.lexsort((offset, who))
    look = look0[who] + offset[order]
    seen = look < LOOKS
    who, first, look = who[seen], first[seen], look[seen]
    value = (rng.random(who.size) < propensity[who]).astype(float)
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    num = np.cumsum(value) - (np.cumsum(value) - value)[starts][group]
    den = (np.arange(who.size) - starts[group] + 1).astype(float)
    shape = (LOOKS, 2, 1)
    cum = tally(shape, look, arm0[who], 0 * look, first, num, den, num - value, den - 1)
    return Trial(cum, list(sc.splits), np.ones(LOOKS, int))


def draw_quantile(rng, sc: Scenario) -> Trial:
    """Repeat callers as in `draw_repeat`; each call's response time is lognormal around the
    caller's own speed (callers differ, sigma 0.5; calls of one caller, sigma 0.3), so a
    caller's calls are alike. Each look: every arm's p95 statistics over the calls seen so
    far (apps.stats.quantile, what apps.results.quantiles computes in PostgreSQL)."""
    from apps.stats.quantile import quantile_stats_of_calls

    look0, arm0, _ = callers(rng, sc)
    calls = np.where(rng.random(look0.size) < 0.3, rng.integers(3, 11, look0.size), 1)
    speed = rng.lognormal(6.6, 0.5, look0.size)
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    look = look0[who] + np.where(first, 0, rng.integers(0, 10, who.size))
    value = speed[who] * rng.lognormal(0, 0.3, who.size)
    arm = arm0[who]
    by_look = [
        [
            quantile_stats_of_calls(
                who[(look <= at) & (arm == a)], value[(look <= at) & (arm == a)], 0.95
            )
            for a in (0, 1)
        ]
        for at in range(LOOKS)
    ]
    return Trial(np.zeros((LOOKS, 2, 1, 6)), list(sc.splits), np.ones(LOOKS, int), by_look)


def draw_optimize(rng, sc: Scenario, seed: int) -> Trial:
    """Hourly: that hour's calls split by its weights, rate 7% -> 13%; then, once every arm
    has 100 callers, Thompson weights on the cumulative counts (as results_optimize_running),
    a new phase whenever they change (as weights_set)."""
    from apps.stats.thompson import thompson_weights

    weights, splits = (50, 50), [(50, 50)]
    hourly = np.zeros((LOOKS, 2, LOOKS, 6))
    phases = np.zeros(LOOKS, int)
    wins, trials = np.zeros(2), np.zeros(2)
    for hour in range(LOOKS):
        n = rng.multinomial(sc.units_per_look, np.array(weights) / 100)
        k = rng.binomial(n, 0.07 + 0.06 * hour / (LOOKS - 1))
        hourly[hour, :, len(splits) - 1] = np.stack([n, k, k, n, n, k], axis=-1)
        phases[hour] = len(splits)
        wins, trials = wins + k, trials + n
        if trials.min() >= 100:
            new = tuple(thompson_weights(wins, trials, floor=0.01, seed=seed * 1_000_003 + hour))
            if new != weights:
                weights = new
                splits.append(new)
    return Trial(np.cumsum(hourly, axis=0), splits, phases)


# -- analysis: look after look, as the results page ---------------------------------------------


def quantile_arm(index: int, split: tuple[int, ...], stats, goal: str):
    """An arm of a quantile row: its p95 statistics as apps.results.quantiles hands them."""
    from apps.results.aggregation import ArmData
    from apps.results.analysis import Arm
    from apps.results.quantiles import ALL

    key = KEYS[index]
    if not stats.n:
        return Arm(key, key.title(), split[index], index == 0, None, 0)
    by_goal = {goal: stats}
    data = ArmData(
        index, stats.n, stats.below.n, {}, {}, {0: stats.below.n}, {0: by_goal, ALL: by_goal}
    )
    return Arm(key, key.title(), split[index], index == 0, data, data.calls)


def arm(index, split, cum: np.ndarray, goal: str, cuped: bool = False, units=None):
    """An arm as apps.results.aggregation hands it: the goal's sums per phase; `units`
    (callers, calls) per phase when not the goal's own units and calls."""
    from apps.results.aggregation import ArmData, sum_stats
    from apps.results.analysis import Arm
    from apps.stats.types import RatioStats
    from bench.aa_history import covariate_stats

    rows = cum.tolist()
    phases = {k: RatioStats(int(row[0]), *row[1:6]) for k, row in enumerate(rows) if row[0]}
    history = {k: covariate_stats(row) for k, row in enumerate(rows) if row[0]} if cuped else None
    key = KEYS[index]
    if not phases:
        return Arm(key, key.title(), split[index], index == 0, None, 0)
    total = sum_stats(list(phases.values()))
    by_phase = {k: s.n for k, s in phases.items()}
    calls, count = int(total.den_sum), total.n
    if units is not None:
        by_phase = {k: int(row[0]) for k, row in enumerate(units.tolist()) if row[0]}
        calls, count = int(units[:, 1].sum()), sum(by_phase.values())
    data = ArmData(
        index, calls, count, {goal: total}, {k: {goal: s} for k, s in phases.items()}, by_phase
    )
    return Arm(key, key.title(), split[index], index == 0, data, data.calls, history)


def _at(units, index: int, phases: int):
    return None if units is None else units[index, :phases]


def verdicts(sc: Scenario, trial: Trial) -> dict[str, bool]:
    from apps.results.analysis import Setup, analyse

    setup = Setup(sc.goal, sc.direction, (), MIN_CALLS, TUNING, MIN_LIFT[sc.goal], 0.0)
    seen, srm, previous, codes = set(), False, None, set()
    for look in range(LOOKS):
        k = int(trial.phases[look])
        splits = trial.splits[:k]
        if trial.quantiles:
            arms = [
                quantile_arm(i, splits[-1], q, sc.goal) for i, q in enumerate(trial.quantiles[look])
            ]
        else:
            units = None if trial.units is None else trial.units[look]
            arms = [
                arm(i, splits[-1], trial.cum[look, i, :k], sc.goal, sc.cuped, _at(units, i, k))
                for i in range(len(splits[0]))
            ]
        phases = tuple({KEYS[i]: w for i, w in enumerate(s)} for s in splits)
        result = analyse(replace(setup, phases=phases, previous=previous), arms)
        previous = result.running
        codes = {v.verdict.code for v in result.variants[1:] if v.verdict is not None}
        seen |= codes
        srm |= bool(result.srm.flagged)
    won = bool(seen & {"winning", "guardrail_pending"})
    lost, changed = "losing" in seen, "changed" in seen
    final = bool(codes & {"winning", "guardrail_pending", "losing", "changed"})
    any_ = won or lost or changed
    return dict(
        winners=won,
        losers=lost,
        changed=changed,
        any=any_,
        final=final,
        srm=srm,
        final_win="winning" in codes,
    )


def paired(with_cuped: bool, without: bool) -> dict[str, bool]:
    """Whether this experiment found the lift without CUPED, and only with it or only without."""
    return {
        "plain_winners": without,
        "gained": with_cuped and not without,
        "lost": without and not with_cuped,
    }


def run_chunk(task) -> tuple[str, dict[str, int]]:
    sc, start, stop = task
    started = time.process_time()
    totals: dict[str, float] = {}
    for experiment in range(start, stop):
        rng = np.random.default_rng(
            [SEED, zlib.crc32((sc.seed_as or sc.name).encode()), experiment]
        )
        if sc.kind == "history":
            from bench.aa_history import draw_history

            trial = draw_history(rng, sc)
        elif sc.kind == "optimize":
            trial = draw_optimize(rng, sc, zlib.crc32(sc.name.encode()) + experiment)
        elif sc.kind == "ratio":
            from bench.aa_ratio import draw_ratio

            trial = draw_ratio(rng, sc)
        elif sc.kind == "quantile":
            trial = draw_quantile(rng, sc)
        else:
            trial = (draw_repeat if sc.kind == "repeat" else draw_once)(rng, sc)
        flags = verdicts(sc, trial)
        if sc.cuped and sc.plan:  # the same draw without CUPED: the pair, experiment by experiment
            flags |= paired(flags["winners"], verdicts(replace(sc, cuped=False), trial)["winners"])
        for name, flag in flags.items():
            totals[name] = totals.get(name, 0) + flag
    totals["cpu_seconds"] = time.process_time() - started
    return sc.name, totals


def simulate(chosen: list[Scenario], experiments: int | None, workers: int) -> dict:
    tasks, chunk = [], 25
    for sc in sorted(chosen, key=lambda s: s.kind != "optimize"):  # the slowest first
        total = experiments or sc.experiments
        tasks += [(sc, i, min(i + chunk, total)) for i in range(0, total, chunk)]
    totals = {sc.name: {} for sc in chosen}
    with get_context("fork").Pool(workers, initializer=_django) as pool:
        for name, counts in pool.imap_unordered(run_chunk, tasks):
            for key, n in counts.items():
                totals[name][key] = totals[name].get(key, 0) + n
    return {
        sc.name: {
            "label": sc.label,
            "experiments": experiments or sc.experiments,
            "units": sc.units_per_look * LOOKS,
            "plan": sc.plan,
            **totals[sc.name],
        }
        for sc in chosen
    }


# -- the table ----------------------------------------------------------------------------------


def _share(row, key) -> str:
    return f"{row.get(key, 0) / row['experiments']:.2%}"


def markdown(details: dict) -> str:
    rows, power = [], []
    for name, r in details["rows"].items():
        if r["plan"]:
            pair = f"{_share(r, 'plain_winners')}: +{r['gained']} / -{r['lost']}"
            power.append(
                f"| {r['label']} (`{name}`) | {r['experiments']:,} | {r['plan']:,} "
                f"| **{_share(r, 'winners')}** | {_share(r, 'final_win')} "
                f"| {pair if 'gained' in r else '—'} | {r['cpu_seconds']:,.0f} |"
            )
            continue
        flag = "" if r["any"] / r["experiments"] <= TARGETS["any"] else " ✗"
        srm = "" if r["srm"] / r["experiments"] <= TARGETS["srm"] else " ✗"
        rows.append(
            f"| {r['label']} (`{name}`) | {r['experiments']:,} | {r['units']:,} "
            f"| {_share(r, 'winners')} | {_share(r, 'losers')} | {_share(r, 'changed')} "
            f"| **{_share(r, 'any')}**{flag} | {_share(r, 'final')} | {_share(r, 'srm')}{srm} "
            f"| {r['cpu_seconds']:,.0f} |"
        )
    out = [
        f"A/A through `analyse()`, {LOOKS} looks evenly spaced, seed {SEED} "
        f"({details['seconds']:.0f} s on {details['workers']} processes; "
        f"`{details['command']}`). ✗: above the target (any false verdict ≤ 5%, "
        "SRM false alarms ≤ 0.2%).",
        "",
        "| scenario | experiments | units at the end, all arms | false winners | false losers "
        "| changed | any false verdict | at the last look | SRM false alarms | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    if power:
        out += [
            "",
            "| power (a true lift) | experiments | planned units per arm (the last look) "
            "| winning at some look | winning at the last look "
            "| without CUPED, same draws: found, +only with / -only without | CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *power,
        ]
    return "\n".join(out) + "\n"


def figures(details: dict) -> list:
    """The figures `make bench` prints and checks: one per row, the worst SRM rate, the time."""
    from bench.lib import Figure

    out = []
    for name, r in details["rows"].items():
        if r["plan"]:
            label = f"{name}: the true lift winning by the planned size"
            key, target = "winners", ">="
        else:
            label, key, target = f"A/A {name}: any false verdict, {LOOKS} looks", "any", "<="
        bound = 100 * TARGETS["power" if r["plan"] else "any"]
        out.append(Figure(label, 100 * r[key] / r["experiments"], "%", (target, bound), 2))
    worst = max(
        (r["srm"] / r["experiments"] for r in details["rows"].values() if not r["plan"]),
        default=0.0,
    )
    out.append(Figure("A/A: SRM false alarms, worst row", 100 * worst, "%", ("<=", 0.2), 2))
    return [*out, Figure("time for the A/A table", details["seconds"], "s", None, 0)]


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _match(name: str, pattern: str) -> bool:
    """`conversion` picks every baseline, `conversion-1` only 1% (not 10%)."""
    return name == pattern or (name.startswith(pattern) and not name[len(pattern)].isdigit())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fewer = int(os.environ.get("BENCH_AA_EXPERIMENTS") or 0) or None  # a knob of bench/run
    parser.add_argument(
        "--experiments", type=int, default=fewer, help="per scenario (default 2,000 or 1,000)"
    )
    parser.add_argument("--scenario", action="append", help="a name or its start; repeatable")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    _django()
    every = scenarios()
    chosen = [
        s for s in every if not args.scenario or any(_match(s.name, p) for p in args.scenario)
    ]
    if not chosen:
        parser.error(f"no scenario starts with that; they are: {', '.join(s.name for s in every)}")
    started = time.perf_counter()
    rows = simulate(chosen, args.experiments, args.workers)
    picked = [f"--scenario {p}" for p in args.scenario or ()]
    command = " ".join(
        [COMMAND, *([f"--experiments {args.experiments}"] * bool(args.experiments)), *picked]
    )
    details = {
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "workers": args.workers,
        "command": command,
    }
    from bench.lib import print_and_save

    print_and_save("aa_table", details, markdown, figures)


if __name__ == "__main__":
    main()
