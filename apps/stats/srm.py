"""Sample ratio mismatch: did the traffic split come out as configured?

A very small p-value means the assignment or the logging is broken and the comparison can't
be trusted, whatever it says. Two checks:

:func:`srm_sequential` (use this one). The anytime-valid test of Lindon & Malek (2022),
"Anytime-Valid Inference For Multinomial Count Data", NeurIPS (arXiv:2011.03567), as used
for sequential SRM by Optimizely and Eppo. For one phase (a stretch of time with fixed
weights) with units x over the k active arms and configured probabilities p0, the
Dirichlet-multinomial mixture Bayes factor against the null multinomial is

    BF = B(alpha + x) / B(alpha) / prod_i p0_i^x_i,   alpha_i = c * p0_i,
    B(a) = prod_i Gamma(a_i) / Gamma(sum_i a_i)      (multivariate beta)

(the multinomial coefficient cancels). Under H0 it is a nonnegative martingale in the units
with mean 1; it depends only on the phase's final counts, so a snapshot is enough. A new
phase starts a fresh factor at 1, so the product over phases is still a test martingale and,
by Ville's inequality, P(e ever reaches 1/threshold) <= threshold however often it is
looked at and however the weights change. The p-value is min(1, 1/e) at the look (the
running minimum over looks would also be valid; a caller may latch a flag).

The concentration c = 300 (``DEFAULT_CONCENTRATION``) is a prior sample size: the prior sd
of p_i is sqrt(p0_i (1 - p0_i) / (c + 1)), about 2.9 percentage points on a 50/50 split. A
larger c finds small mismatches sooner but large ones later, and gains little from short
phases (for n << c a phase's BF stays near 1). Chosen by simulation over c = 10 ... 10,000
(200 seeded runs per case; median units to a flag on a 50/50 configuration at c = 300: 580
for a 40/60 split, 4,500 for 47/53, 45,500 for 49/51, 190,000 for 49.5/50.5). For 1 to 3
point mismatches, also on a 99/1 and a 34/33/33 split, c = 300 is within 10% of the best c
tried; for a broken 40/60 split c = 30 is faster (440 units).

Units on a paused arm (weight 0) are conclusive: H0 gives them probability 0, so the
likelihood ratio is infinite and the check flags at once (e is capped at ``E_VALUE_CAP``).
Excluding them instead would hide a paused variant that still serves, the bug this check is
for. Counts must be *distinct units first assigned in that phase*: cumulative counts against
the current weights would (rightly) flag an arm that had traffic before it was paused.

:func:`srm_check`. Pearson's chi-square goodness-of-fit test on one set of counts, as in
GrowthBook ``check_srm`` and Fabijan et al. (2019), "Diagnosing Sample Ratio Mismatch in
Online Controlled Experiments", KDD. Valid at one fixed look with expected counts >= 5;
repeated at every look, or with a 1% arm early on, it raises false alarms far above its
threshold (pinned in the tests), which is why :func:`srm_sequential` exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

SRM_THRESHOLD = 0.001
DEFAULT_CONCENTRATION = 300.0
LOG_E_VALUE_CAP = 700.0  # exp(700) ~ 1e304 still fits in a float
E_VALUE_CAP = math.exp(LOG_E_VALUE_CAP)


@dataclass(frozen=True)
class SrmResult:
    """Chi-square statistic, degrees of freedom, p-value and whether SRM is flagged."""

    chi2: float
    dof: int
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class PhaseCounts:
    """Distinct units per arm in one phase and the weights configured during it.

    Weights are percent or any non-negative scale; 0 means the arm was paused. The arm order
    is the same in every phase. Refuses negative counts and negative or non-finite weights.
    """

    counts: tuple[int, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if len(self.counts) != len(self.weights):
            raise ValueError(
                f"a phase needs one weight per arm: {len(self.counts)} counts, "
                f"{len(self.weights)} weights"
            )
        if any(c < 0 for c in self.counts):
            raise ValueError(f"unit counts can't be negative: {self.counts}")
        if not all(float(c).is_integer() for c in self.counts):
            raise ValueError(f"unit counts must be whole numbers: {self.counts}")
        if not all(math.isfinite(w) and w >= 0 for w in self.weights):
            raise ValueError(f"weights must be finite and non-negative: {self.weights}")


@dataclass(frozen=True)
class SequentialSrm:
    """Anytime-valid SRM p-value, flag, e-value, and units observed against expected."""

    p_value: float
    flagged: bool
    e_value: float
    units: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]


def log_bayes_factor(counts, probabilities, concentration: float = DEFAULT_CONCENTRATION):
    """Log Dirichlet-multinomial mixture Bayes factor against the multinomial with p0.

    Formula (Lindon & Malek 2022, the multinomial test):
        log BF = log B(alpha + x) - log B(alpha) - sum_i x_i log p0_i,  alpha = c p0
    with B the multivariate beta (via ``scipy.special.gammaln``). ``probabilities`` must
    be positive and sum to 1 over the last axis; works on numpy arrays of counts whose last
    axis is the arms (e.g. experiments x looks x arms).
    """
    x = np.asarray(counts, dtype=float)
    p0 = np.asarray(probabilities, dtype=float)
    alpha = concentration * p0
    return _log_beta(alpha + x) - _log_beta(alpha) - np.sum(x * np.log(p0), axis=-1)


def _log_beta(a):
    return np.sum(special.gammaln(a), axis=-1) - special.gammaln(np.sum(a, axis=-1))


def srm_sequential(
    phases: Sequence[PhaseCounts],
    threshold: float = SRM_THRESHOLD,
    concentration: float = DEFAULT_CONCENTRATION,
) -> SequentialSrm:
    """Anytime-valid SRM check over the phases of a split (Lindon & Malek 2022).

    Method: e = prod_k BF_k, one :func:`log_bayes_factor` per phase over its arms with
    weight > 0 (p0_i = w_ik / sum_active w_k), summed on the log scale and capped at
    ``E_VALUE_CAP``; p = min(1, 1/e); flagged when p < ``threshold``. A phase with units on
    a zero-weight arm makes e = ``E_VALUE_CAP`` (conclusive, see the module docstring). A
    phase with fewer than 2 active arms or no units contributes BF = 1. Expected units per
    arm: sum_k n_k w_ik / sum_active w_k. Assumes each unit is counted once, in the phase it
    was first assigned, and that units are assigned independently given the weights.
    """
    width = _check_settings(phases, threshold, concentration)
    log_e = min(sum(_phase_log_bf(phase, concentration) for phase in phases), LOG_E_VALUE_CAP)
    observed = sum((np.asarray(phase.counts) for phase in phases), np.zeros(width))
    expected = sum((_expected(phase) for phase in phases), np.zeros(width))
    p_value = math.exp(-max(log_e, 0.0))
    return SequentialSrm(
        p_value=p_value,
        flagged=p_value < threshold,
        e_value=math.exp(log_e),
        units=int(observed.sum()),
        observed=tuple(int(o) for o in observed),
        expected=tuple(float(e) for e in expected),
    )


def _check_settings(phases, threshold, concentration) -> int:
    if not 0 < threshold < 1:
        raise ValueError(f"the threshold must be between 0 and 1, not {threshold!r}")
    if not (math.isfinite(concentration) and concentration > 0):
        raise ValueError(f"the concentration must be positive, not {concentration!r}")
    arms = {len(phase.counts) for phase in phases}
    if len(arms) > 1:
        raise ValueError(f"every phase must list the same arms; got arm counts {sorted(arms)}")
    return arms.pop() if arms else 0


def _phase_log_bf(phase: PhaseCounts, concentration: float) -> float:
    counts, weights = np.asarray(phase.counts, dtype=float), np.asarray(phase.weights)
    active = weights > 0
    if counts[~active].sum() > 0:
        return LOG_E_VALUE_CAP  # a unit where H0 allows none
    if active.sum() < 2 or counts.sum() == 0:
        return 0.0
    p0 = weights[active] / weights[active].sum()
    return float(log_bayes_factor(counts[active], p0, concentration))


def _expected(phase: PhaseCounts):
    weights = np.asarray(phase.weights, dtype=float)
    total = weights.sum()
    return sum(phase.counts) * weights / total if total > 0 else np.zeros_like(weights)


def srm_sequential_check(
    observed: Sequence[int],
    weights: Sequence[float],
    threshold: float = SRM_THRESHOLD,
    concentration: float = DEFAULT_CONCENTRATION,
) -> SequentialSrm:
    """:func:`srm_sequential` for a split that never changed: one phase.

    Same method and assumptions; ``weights`` in percent or any non-negative scale.
    """
    phase = PhaseCounts(counts=tuple(observed), weights=tuple(weights))
    return srm_sequential([phase], threshold=threshold, concentration=concentration)


def srm_check(
    observed: Sequence[int], weights_percent: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square goodness of fit of observed counts against expected weights (in percent).

    Formula: chi2 = sum_i (O_i - E_i)^2 / E_i with E_i = N * w_i / sum(w), df = k - 1 over
    the k arms with positive weight; p = P(Chi2_df > chi2). Zero-weight arms (paused
    variants) are excluded from N, the sum and the degrees of freedom. Weights need not sum
    to 100. Flagged when p < ``threshold``. Assumes each unit is counted once, one look,
    and expected counts that are not tiny (E_i >= 5); see :func:`srm_sequential` otherwise.
    No calls or fewer than 2 active arms: p = 1, not flagged.
    """
    if len(observed) != len(weights_percent):
        raise ValueError("observed and weights_percent must have the same length")
    active = [(o, w) for o, w in zip(observed, weights_percent, strict=True) if w > 0]
    total = sum(o for o, _ in active)
    if len(active) < 2 or total <= 0:
        return SrmResult(chi2=0.0, dof=max(len(active) - 1, 0), p_value=1.0, flagged=False)
    weight_sum = sum(w for _, w in active)
    chi2 = 0.0
    for o, w in active:
        expected = total * w / weight_sum
        chi2 += (o - expected) * (o - expected) / expected
    dof = len(active) - 1
    p_value = float(sps.chi2.sf(chi2, dof))
    return SrmResult(chi2=chi2, dof=dof, p_value=p_value, flagged=p_value < threshold)
