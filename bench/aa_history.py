"""Repeat callers with a history, for the CUPED rows of bench/aa_table.py.

Conversion: each caller converts at their own propensity ~ Beta(0.5, 0.5 (1 - rate) / rate)
(mean `rate`, per phase as the scenario's rates: a drift). Duration: each caller has their own
typical call length, lognormal around the scenario's median (its `rates`, in seconds), and
their calls vary around it (`_duration`). Half of the callers called the agent 1-10 times in
the 30 days before their first exposure, alike (that history is what CUPED reads); after
exposure 30% call 3-10 times within 10 looks, the rest once. A caller belongs to the arm and
phase of their first call, as in apps/results/aggregation.py. The variant's callers convert
(or talk) (1 + lift) times as much after exposure (power rows).

The cumulative sums per (look, arm, phase) are the ratio's six (bench.aa_table.tally) and the
covariates' eleven of apps.stats.cuped.CovariateStats, as apps/results/cuped.py returns them.
"""

import numpy as np

from bench.aa_table import LOOKS, Trial, callers, tally

HISTORY_SHARE = 0.5
CALLER_SIGMA, CALL_SIGMA = 0.6, 0.4  # duration: spread between callers, within one


def draw_history(rng, sc) -> Trial:
    look0, arm0, phase_of = callers(rng, sc)
    phase0 = phase_of[look0]
    base = np.array(sc.rates, dtype=float)[phase0, arm0]
    variant = arm0 == len(sc.splits[0]) - 1
    traits = _duration if sc.goal == "duration" else _conversion
    x, per_call = traits(rng, base, 1 + sc.lift * variant)
    calls = np.where(rng.random(look0.size) < 0.3, rng.integers(3, 11, look0.size), 1)
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    offset = np.where(first, 0, rng.integers(0, 10, who.size))
    look = look0[who] + offset[np.lexsort((offset, who))]  # in call order within a caller
    value = per_call(who)
    seen = look < LOOKS
    who, first, look, value = who[seen], first[seen], look[seen], value[seen]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    num = np.cumsum(value) - (np.cumsum(value) - value)[starts][group]
    den = (np.arange(who.size) - starts[group] + 1).astype(float)
    shape = (LOOKS, len(sc.splits[0]), len(sc.splits))
    where = (look, arm0[who], phase0[who])
    cum = tally(shape, *where, first, num, den, num - value, den - 1)
    extra = _covariate_tally(shape, where, first, x[who], value)
    phases = np.searchsorted(sc.phase_from, np.arange(LOOKS), "right")
    return Trial(np.concatenate([cum, extra], axis=-1), list(sc.splits), phases)


def _pre_calls(rng, n: int) -> np.ndarray:
    """How many calls each caller made in the 30 days before: 1-10 for HISTORY_SHARE, else 0."""
    return np.where(rng.random(n) < HISTORY_SHARE, rng.integers(1, 11, n), 0)


def _covariates(pre_num, pre_den) -> np.ndarray:
    """(mean value over the pre-period calls or 0, has history), as apps.stats.cuped."""
    has = pre_den > 0
    value = np.divide(pre_num, pre_den, out=np.zeros(pre_den.size), where=has)
    return np.column_stack([value, has]).astype(float)


def _conversion(rng, rate, factor):
    """A caller's propensity ~ Beta(0.5, 0.5 (1 - rate) / rate), before and after exposure
    (times `factor` after it, at most 1): their covariates and a draw of their calls."""
    propensity = rng.beta(0.5, 0.5 * (1 - rate) / rate)
    pre_den = _pre_calls(rng, rate.size)
    pre_num = rng.binomial(pre_den, propensity)
    lifted = np.minimum(propensity * factor, 1.0)
    return _covariates(pre_num, pre_den), lambda who: (rng.random(who.size) < lifted[who]) * 1.0


def _duration(rng, median, factor):
    """A caller's own typical length: log-median ~ normal(log median, CALLER_SIGMA); each of
    their calls lognormal around it (CALL_SIGMA), before and after exposure (times `factor`
    after it): persistent caller effects, as in the p95 row's response times."""
    speed = np.log(median) + rng.normal(0, CALLER_SIGMA, median.size)
    pre_den = _pre_calls(rng, median.size)
    pre = rng.lognormal(speed[:, None], CALL_SIGMA, (median.size, 10))
    pre_num = np.where(np.arange(10) < pre_den[:, None], pre, 0).sum(axis=1)
    return _covariates(
        pre_num, pre_den
    ), lambda who: rng.lognormal(speed[who], CALL_SIGMA) * factor[who]


def _covariate_tally(shape, where, first, x, value) -> np.ndarray:
    """Per call: on a caller's first call their with-history flag, x and x x'; on every call
    x times the change of their num (the value) and of their den (1)."""
    index = np.ravel_multi_index(where, shape)
    f = first.astype(float)
    parts = [f * x[:, 1], f * x[:, 0], f * x[:, 1]]
    parts += [f * x[:, i] * x[:, j] for i in range(2) for j in range(2)]
    parts += [x[:, 0] * value, x[:, 1] * value, x[:, 0], x[:, 1]]
    size = int(np.prod(shape))
    out = np.stack([np.bincount(index, p, size) for p in parts], axis=-1)
    return np.cumsum(out.reshape(*shape, len(parts)), axis=0)


def covariate_stats(row):
    """One (arm, phase) cell of the cumulative sums -> apps.stats.cuped.CovariateStats."""
    from apps.stats.cuped import CovariateStats
    from apps.stats.types import RatioStats

    r = [float(v) for v in row]
    return CovariateStats(
        RatioStats(int(r[0]), *r[1:6]),
        int(r[6]),
        tuple(r[7:9]),
        tuple(r[9:13]),
        tuple(r[13:15]),
        tuple(r[15:17]),
    )


def planned_size(rate: float, lift: float, goal: str = "conversion") -> int:
    """Units per arm the planner asks for at this base rate (or median duration) and lift,
    from the per-caller ratio variance of 200,000 simulated callers (without CUPED: what the
    form would say)."""
    from apps.stats.planning import units_per_variant_for_goal
    from apps.stats.ratio import ratio_moments
    from apps.stats.types import RatioStats

    rng = np.random.default_rng(20261129)
    calls = np.where(rng.random(200_000) < 0.3, rng.integers(3, 11, 200_000), 1)
    if goal == "duration":
        speed = np.log(rate) + rng.normal(0, CALLER_SIGMA, calls.size)
        who = np.repeat(np.arange(calls.size), calls)
        per_call = rng.lognormal(speed[who], CALL_SIGMA)
        num = np.bincount(who, per_call, calls.size)
    else:
        num = rng.binomial(calls, rng.beta(0.5, 0.5 * (1 - rate) / rate, calls.size)) * 1.0
    sums = (num.sum(), (num**2).sum(), calls.sum(), (calls**2).sum(), (num * calls).sum())
    caller = ratio_moments(RatioStats(calls.size, *map(float, sums)))
    direction = "lower" if lift < 0 else "higher"
    options = {"direction": direction, "alpha": 0.05, "tuning": 5000, "variants": 1}
    return units_per_variant_for_goal(goal, caller.mean, caller.variance, abs(lift), **options)
