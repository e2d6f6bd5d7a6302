"""Confidence intervals for a single proportion (k successes in n trials).

Used for small counts, such as how often reviewers preferred a variant in the pairs they
judged, where the usual "p ± 1.96·SE" (Wald) interval is badly wrong: it can leave [0, 1],
and with 3 of 3 it claims certainty.
"""

from __future__ import annotations

import math

from scipy import stats as sps


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, two-sided at level 1 - alpha.

    Method: E. B. Wilson (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22(158):209-212; method 3 in R. G. Newcombe (1998), "Two-sided
    confidence intervals for the single proportion: comparison of seven methods",
    Statistics in Medicine 17:857-872, and recommended by Brown, Cai & DasGupta (2001),
    Statistical Science 16(2):101-133.

    Formula, with p = k/n and z = Phi^-1(1 - alpha/2):

        centre    = (p + z^2 / 2n) / (1 + z^2 / n)
        half      = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
        interval  = (centre - half, centre + half)

    i.e. the set of proportions p0 that a score test (p - p0)^2 <= z^2 p0 (1 - p0) / n would
    not reject. Without continuity correction. It always lies within [0, 1] and is not empty
    at k = 0 or k = n. Examples: 8 of 10 at 95% gives (0.4902, 0.9433); Newcombe's Table I
    gives 81 of 263 -> (0.2553, 0.3662) and 0 of 20 -> (0, 0.1611).

    Assumes independent trials with one common probability. With n = 0 there is no
    information: returns (0.0, 1.0). Raises ValueError for counts outside 0 <= k <= n or
    alpha outside (0, 1).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if n == 0:
        return 0.0, 1.0
    z = float(sps.norm.ppf(1 - alpha / 2))
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At k = 0 (k = n) the lower (upper) end is exactly 0 (1); say so instead of 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
