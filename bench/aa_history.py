"""Repeat callers with a history, for the CUPED rows of bench/aa_table.py.

Each caller converts at their own propensity ~ Beta(0.5, 0.5 (1 - rate) / rate) (mean `rate`,
per phase as the scenario's rates: a drift); half of them called the agent 1-10 times in the
30 days before their first exposure, converting at the same propensity (that history is what
CUPED reads); after exposure 30% call 3-10 times within 10 looks, the rest once. A caller
belongs to the arm and phase of their first call, as in apps/results/aggregation.py. The
variant's callers convert (1 + lift) times as often after exposure (power rows).

The cumulative sums per (look, arm, phase) are the ratio's six (bench.aa_table.tally) and the
covariates' eleven of apps.stats.cuped.CovariateStats, as apps/results/cuped.py returns them.
"""

import numpy as np

from bench.aa_table import LOOKS, Trial, callers, tally

HISTORY_SHARE = 0.5


def draw_history(rng, sc) -> Trial:
    look0, arm0, phase_of = callers(rng, sc)
    phase0 = phase_of[look0]
    base = np.array(sc.rates)[phase0, arm0]
    propensity = rng.beta(0.5, 0.5 * (1 - base) / base)
    pre_den = np.where(rng.random(look0.size) < HISTORY_SHARE, rng.integers(1, 11, look0.size), 0)
    pre_num = rng.binomial(pre_den, propensity)
    x = np.column_stack(
        [np.divide(pre_num, pre_den, out=np.zeros(look0.size), where=pre_den > 0), pre_den > 0]
    ).astype(float)
    lifted = np.minimum(propensity * (1 + sc.lift * (arm0 == len(sc.splits[0]) - 1)), 1.0)
    calls = np.where(rng.random(look0.size) < 0.3, rng.integers(3, 11, look0.size), 1)
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    offset = np.where(first, 0, rng.integers(0, 10, who.size))
    look = look0[who] + offset[np.lexsort((offset, who))]  # in call order within a caller
    value = (rng.random(who.size) < lifted[who]).astype(float)
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


def planned_size(rate: float, lift: float) -> int:
    """Units per arm the planner asks for at this base rate and lift, from the per-caller ratio
    variance of 200,000 simulated callers (without CUPED: what the form would say)."""
    from apps.stats.planning import units_per_variant_for_goal
    from apps.stats.ratio import ratio_moments
    from apps.stats.types import RatioStats

    rng = np.random.default_rng(20261129)
    calls = np.where(rng.random(200_000) < 0.3, rng.integers(3, 11, 200_000), 1)
    num = rng.binomial(calls, rng.beta(0.5, 0.5 * (1 - rate) / rate, calls.size)).astype(float)
    sums = (num.sum(), (num**2).sum(), calls.sum(), (calls**2).sum(), (num * calls).sum())
    caller = ratio_moments(RatioStats(calls.size, *map(float, sums)))
    options = {"direction": "higher", "alpha": 0.05, "tuning": 5000, "variants": 1}
    return units_per_variant_for_goal("conversion", caller.mean, caller.variance, lift, **options)
