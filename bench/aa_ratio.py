"""Repeat callers with tool calls, for the ratio-metric rows of bench/aa_table.py.

The goal is `tool_success_rate` (apps.metrics: successful tool calls / all tool calls, a
ratio analysed per caller by the delta method). 30% of callers call 3-10 times within 10
looks of their first call, the rest once; each call makes 0 tool calls half the time, else
1-4 (uniform); each caller's tools succeed at their own rate ~ Beta(9.7, 0.3) (mean 97%; about
one caller in ten below 90%: some callers' tools fail more), the same in every arm (A/A).

As apps/results/aggregation.py counts them: a caller is a unit of the metric once they have
made a tool call (their tool-call count is the denominator), a unit of the split check from
their first call, in the arm and phase of that first call.
"""

import numpy as np

from bench.aa_table import LOOKS, Trial, callers, tally

NO_TOOLS, MOST_TOOLS = 0.5, 4
SUCCESS = (9.7, 0.3)  # Beta parameters of a caller's tool success rate


def ratio_calls(rng, sc) -> dict[str, np.ndarray]:
    """Every call seen by the last look, grouped by caller in call order: its caller, look,
    the caller's arm and phase, whether it is the caller's first, tool calls and successes."""
    look0, arm0, phase_of = callers(rng, sc)
    success = rng.beta(*SUCCESS, look0.size)
    calls = np.where(rng.random(look0.size) < 0.3, rng.integers(3, 11, look0.size), 1)
    who = np.repeat(np.arange(look0.size), calls)
    first = np.r_[True, who[1:] != who[:-1]]
    offset = np.where(first, 0, rng.integers(0, 10, who.size))
    look = look0[who] + offset[np.lexsort((offset, who))]  # in call order within a caller
    tools = np.where(rng.random(who.size) < NO_TOOLS, 0, rng.integers(1, MOST_TOOLS + 1, who.size))
    ok = rng.binomial(tools, success[who])
    seen = look < LOOKS
    out = dict(who=who, look=look, arm=arm0[who], phase=phase_of[look0][who], first=first)
    return {k: v[seen] for k, v in (out | dict(tools=tools, ok=ok)).items()}


def draw_ratio(rng, sc) -> Trial:
    c = ratio_calls(rng, sc)
    ok, tools, first = c["ok"].astype(float), c["tools"].astype(float), c["first"]
    num, den = _running(first, ok), _running(first, tools)
    metric_first = (den > 0) & (den == tools)  # this call made the caller's first tool call
    shape = (LOOKS, len(sc.splits[0]), len(sc.splits))
    where = (c["look"], c["arm"], c["phase"])
    cum = tally(shape, *where, metric_first, num, den, num - ok, den - tools)
    index = np.ravel_multi_index(where, shape)
    size = int(np.prod(shape))
    counts = [np.bincount(index, first.astype(float), size), np.bincount(index, None, size)]
    units = np.cumsum(np.stack(counts, axis=-1).reshape(*shape, 2), axis=0)
    phases = np.searchsorted(sc.phase_from, np.arange(LOOKS), "right")
    return Trial(cum, list(sc.splits), phases, units=units)


def _running(first: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Each call's caller's sum of `value` up to and including it (calls grouped by caller,
    in order; `first` marks each caller's first call)."""
    total = np.cumsum(value)
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    return total - (total - value)[starts][group]
