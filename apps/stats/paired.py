"""Paired comparison of two prompts on the same rehearsal scenarios (issue 14's gate).

Each scenario is played N times on each arm (control and variant). The unit of analysis is
the scenario, not the play: plays of one scenario share its persona and checks, so they are
not independent; the share of plays that passed is one number per scenario and arm, and the
difference variant - control is one paired observation per scenario.

    pass_share(passes, plays)                -> share of plays that passed (None without plays)
    paired_difference(control, variant)      -> PairedInterval: mean difference and t interval
    sign_flip_p_value(differences)           -> exact (or sampled) randomisation p-value
    gate(interval, margin)                   -> "passed" | "failed"

Pure: no Django, nothing from ``apps``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from scipy import stats as sps

EXACT_SIGN_FLIP_MAX = 16  # 2^16 = 65,536 sign patterns; beyond that they are sampled
SAMPLED_SIGN_FLIPS = 20_000
FEW_SCENARIOS = 10  # below this the sign-flip p-value is worth reading beside the t interval


@dataclass(frozen=True)
class PairedInterval:
    """The mean of per-scenario differences (variant - control, shares 0..1) and its range.

    `lower`/`upper` are None with fewer than two scenarios (no spread can be estimated).
    `sign_flip_p` is the randomisation p-value of "no difference", reported beside the t
    interval because with few scenarios the t interval leans on normality.
    """

    scenarios: int
    mean: float | None
    lower: float | None
    upper: float | None
    confidence: float
    method: str
    sign_flip_p: float | None


def pass_share(passes: int, plays: int) -> float | None:
    """Share of a scenario's plays that passed: passes / plays; None when nothing was played.

    Plays that ended in an error (timeout, malformed reply) are not plays here: the caller
    leaves them out of both counts, so an error is never a fail.
    """
    if plays < 0 or passes < 0 or passes > plays:
        raise ValueError(f"need 0 <= passes <= plays, got {passes} of {plays}")
    return None if plays == 0 else passes / plays


def paired_difference(
    control: Sequence[float], variant: Sequence[float], confidence: float = 0.95
) -> PairedInterval:
    """Mean paired difference d_i = variant_i - control_i over scenarios, with Student's t
    interval.

    Method: the paired t interval (Student 1908; e.g. Wasserman, "All of Statistics" §10.7,
    or scipy.stats.ttest_rel(...).confidence_interval, which gives the same numbers):

        d̄ ± t_{n-1, (1+confidence)/2} · s_d / √n,   s_d = sample standard deviation of d

    Assumes scenarios are independent and the mean of d roughly normal; d is bounded in
    [-1, 1], so the t interval is reasonable from about ten scenarios. With fewer, read
    `sign_flip_p` too (see sign_flip_p_value). With every difference equal (s_d = 0) the
    interval is that single value. Needs equal lengths and finite shares in [0, 1].
    """
    if len(control) != len(variant):
        raise ValueError("control and variant need one share per scenario each")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    diffs = [_share(v) - _share(c) for c, v in zip(control, variant, strict=True)]
    n = len(diffs)
    p = sign_flip_p_value(diffs) if n else None
    if n < 2:
        mean = diffs[0] if n else None
        return PairedInterval(n, mean, None, None, confidence, "paired t", p)
    mean = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(sps.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return PairedInterval(n, mean, mean - half, mean + half, confidence, "paired t", p)


def _share(value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"a pass share must be a finite number from 0 to 1, got {value}")
    return value


def sign_flip_p_value(differences: Sequence[float], *, seed: int = 0) -> float:
    """Two-sided randomisation p-value of "the variant and control do equally well".

    Method: Fisher's sign-flip (paired permutation) test (Fisher 1935, "The Design of
    Experiments" §21; Good, "Permutation Tests" 2nd ed. §3.1). Under no difference each
    scenario's difference is as likely +d as -d; the p-value is the share of the 2^n sign
    patterns whose |sum| is at least the observed |sum|. Exact up to 16 scenarios, else
    estimated from 20,000 random patterns (seeded, so repeatable), counting the observed one.
    Assumes only that differences are symmetric about 0 under the null — no normality.
    Equals scipy.stats.permutation_test(..., permutation_type="samples") on the pairs.
    """
    d = [float(x) for x in differences]
    if not d:
        raise ValueError("no differences to test")
    observed = abs(math.fsum(d)) - 1e-12
    if len(d) <= EXACT_SIGN_FLIP_MAX:
        patterns = product((1, -1), repeat=len(d))
        hits = sum(
            abs(math.fsum(s * x for s, x in zip(p, d, strict=True))) >= observed for p in patterns
        )
        return hits / 2 ** len(d)
    rng = random.Random(seed)
    hits = sum(
        abs(math.fsum(x if rng.random() < 0.5 else -x for x in d)) >= observed
        for _ in range(SAMPLED_SIGN_FLIPS)
    )
    return (hits + 1) / (SAMPLED_SIGN_FLIPS + 1)


def gate(interval: PairedInterval, margin: float) -> str:
    """ "failed" when the variant may be worse than control by more than `margin` (a share,
    0.05 = 5 points): the lower end of the paired interval is below -margin. Also "failed"
    with fewer than two comparable scenarios, where no lower end exists: the gate fails
    closed rather than wave a variant through on no evidence. Otherwise "passed".

    A non-inferiority test in interval form (e.g. Wellek, "Testing Statistical Hypotheses of
    Equivalence and Noninferiority", 2nd ed. §1.6): passing means the data rule out a drop
    larger than the margin at the interval's confidence.
    """
    if not math.isfinite(margin) or not 0 <= margin <= 1:
        raise ValueError(f"the margin must be a share from 0 to 1, got {margin}")
    if interval.lower is None:
        return "failed"
    return "failed" if interval.lower < -margin else "passed"
