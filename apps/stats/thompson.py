"""Optimize mode: Thompson-sampling allocation of traffic between variants.

Method: Thompson (1933), "On the likelihood that one unknown probability exceeds another";
for Bernoulli outcomes each arm's rate gets a Beta(1 + successes, 1 + failures) posterior
(uniform prior), and each arm's share of traffic is the posterior probability that it is
the best arm, estimated by Monte Carlo (Chapelle & Li 2011, "An Empirical Evaluation of
Thompson Sampling"). A floor per arm keeps every variant learning, and shares are whole
percents adding up to exactly 100 (largest-remainder rounding), as the router expects.
Assumes independent calls with a yes/no outcome (conversion, or a judge's pass/fail).
"""

from collections.abc import Sequence

import numpy as np


def probability_best(
    successes: Sequence[float], trials: Sequence[float], draws: int = 20_000, seed: int = 0
) -> list[float]:
    """P(arm is best) under independent Beta(1 + s, 1 + n - s) posteriors, by Monte Carlo."""
    rng = np.random.default_rng(seed)
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    samples = rng.beta(1.0 + s, 1.0 + np.maximum(n - s, 0.0), size=(draws, len(s)))
    wins = np.bincount(samples.argmax(axis=1), minlength=len(s))
    return (wins / draws).tolist()


def whole_percents(shares: Sequence[float], floor: float = 0.01) -> list[int]:
    """Shares -> whole percents with at least ``floor`` each, summing to exactly 100."""
    k = len(shares)
    floor_pct = max(1, round(floor * 100)) if floor > 0 else 0
    if k * floor_pct > 100:
        raise ValueError("the floor leaves no room: too many arms for it")
    total = sum(shares) or 1.0
    spare = 100 - k * floor_pct
    raw = [floor_pct + spare * s / total for s in shares]
    rounded = [int(r) for r in raw]
    order = sorted(range(k), key=lambda i: raw[i] - rounded[i], reverse=True)
    for i in order[: 100 - sum(rounded)]:
        rounded[i] += 1
    return rounded


def thompson_weights(
    successes: Sequence[float], trials: Sequence[float], floor: float = 0.01, seed: int = 0
) -> list[int]:
    """Traffic weights (whole percents, each >= floor, sum 100) by Thompson sampling."""
    return whole_percents(probability_best(successes, trials, seed=seed), floor)
