"""Phases of the split as strata: compare within each phase, then combine.

Why: when the split changes while the outcome drifts (a 50/50 week at 10%, then a 10/90 week
at 15%), pooling all calls credits the variant that got most of the better week with that
week's rate: in an A/A test it "converts 22% better" (Simpson's paradox). Within one phase
both arms were served over the same hours, so their difference is fair; a weighted average
of those differences is fair too.

Method: the Mantel-Haenszel-weighted average of the per-phase differences of means (Mantel &
Haenszel 1959; for risk differences Greenland & Robins 1985, Biometrics 41):

    delta = sum_k w_k (m_vk - m_ck) / W,   w_k = n_ck n_vk / (n_ck + n_vk),   W = sum_k w_k
    Var(delta) = sum_k w_k^2 (V_ck / n_ck + V_vk / n_vk) / W^2

with m the arm's mean and V its per-unit variance in phase k (n - 1 sample variances; the
delta method for per-caller ratios, :func:`apps.stats.ratio.ratio_moments`). The weights are
proportional to the inverse variance of each phase's difference when variances are equal,
so a phase that gave one arm 1% of the traffic counts little (optimize mode). With a single
phase delta and its variance are exactly the pooled ones (w cancels), so nothing changes for
an experiment whose split never moved. A phase enters only when both arms have at least 2
units there (a phase where the variant was paused says nothing about it).

The result is handed to every comparison as two "effective" :class:`Moments` whose means
are the weighted control and variant means and whose variances make ``var / n`` the weighted
variance of each arm's mean, so that the difference, its standard error and the delta-method
relative change come out of the usual formulas.
"""

from __future__ import annotations

from collections.abc import Sequence

from .types import Moments

MIN_UNITS = 2


def stratified(phases: Sequence[tuple[Moments, Moments]]) -> tuple[Moments, Moments]:
    """(control, variant) per phase -> effective (control, variant) Moments (module docstring).

    No phase with 2 or more units in both arms gives empty Moments (n = 0), which every
    comparison reports as "not enough data".
    """
    kept = [(c, v) for c, v in phases if c.n >= MIN_UNITS and v.n >= MIN_UNITS]
    if len(kept) == 1:
        return kept[0]
    if not kept:
        return Moments(0, 0.0, 0.0), Moments(0, 0.0, 0.0)
    weights = [c.n * v.n / (c.n + v.n) for c, v in kept]
    total = sum(weights)
    n_c = sum(c.n for c, _ in kept)
    n_v = sum(v.n for _, v in kept)
    mean_c = sum(w * c.mean for w, (c, _) in zip(weights, kept, strict=True)) / total
    mean_v = sum(w * v.mean for w, (_, v) in zip(weights, kept, strict=True)) / total
    var_c = sum(w * w * c.variance / c.n for w, (c, _) in zip(weights, kept, strict=True))
    var_v = sum(w * w * v.variance / v.n for w, (_, v) in zip(weights, kept, strict=True))
    return (
        Moments(n_c, mean_c, var_c / (total * total) * n_c),
        Moments(n_v, mean_v, var_v / (total * total) * n_v),
    )
