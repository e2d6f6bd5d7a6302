"""Sample ratio mismatch: did the traffic split come out as configured?

Method: Pearson's chi-square goodness-of-fit test of the observed counts per arm against
the counts expected from the configured weights, as in GrowthBook ``check_srm`` and
Fabijan et al. (2019), "Diagnosing Sample Ratio Mismatch in Online Controlled
Experiments", KDD. A very small p-value (default threshold 0.001, conservative because the
check is repeated at every look) means the assignment or the logging is broken and the
comparison can't be trusted, whatever it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as sps

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Chi-square statistic, degrees of freedom, p-value and whether SRM is flagged."""

    chi2: float
    dof: int
    p_value: float
    flagged: bool


def srm_check(
    observed: Sequence[int], weights_percent: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square goodness of fit of observed counts against expected weights (in percent).

    Formula: chi2 = sum_i (O_i - E_i)^2 / E_i with E_i = N * w_i / sum(w), df = k - 1 over
    the k arms with positive weight; p = P(Chi2_df > chi2). Zero-weight arms (paused
    variants) are excluded from N, the sum and the degrees of freedom. Weights need not sum
    to 100. Flagged when p < ``threshold``. Assumes each unit is counted once and expected
    counts are not tiny (E_i >= 5). No calls or fewer than 2 active arms: p = 1, not flagged.
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
