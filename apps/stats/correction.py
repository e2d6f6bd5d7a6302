"""Several variants against one control: Holm(-Bonferroni) correction.

Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Stat. 6:
sort the m p-values ascending; the adjusted p-value of the k-th smallest (k = 1..m) is
    p~_(k) = max_{j <= k} min(1, (m - j + 1) p_(j)),
which is monotone in the raw p-values and controls the family-wise error rate at alpha for
any dependence between the tests (R ``p.adjust(method = "holm")``).

Intervals. There is no simple simultaneous interval that matches Holm's step-down test
(Strassburger & Bretz 2008, Stat. Med. 27). What we do instead, so that the interval shown
never contradicts the Holm decision: comparison i's interval is computed at
    alpha_i = alpha * p_i / p~_i   (alpha / (m - k + 1) when p_i = p~_i = 0).
Because the interval at level a excludes 0 exactly when p_i < a (true for the Welch t
interval and for the confidence sequence with rho held fixed), the interval excludes 0
exactly when the Holm-adjusted p-value is below alpha. alpha_i always lies between
alpha / m (Bonferroni) and alpha (no correction), so each interval is at least as wide as
the unadjusted one and never wider than the Bonferroni one. The decision (does it exclude
0?) inherits Holm's family-wise error control; the interval's exact coverage is not claimed.
For always-valid p-values Holm stays valid under continuous monitoring, since each
p-value is itself valid at any stopping time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .frequentist import fixed_horizon
from .sequential import DEFAULT_TUNING, sequential
from .types import ArmStats, Method, Moments, Scale, VariantResult, check_alpha


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order (see module docstring for the formula).

    Method: Holm (1979) step-down, as R ``p.adjust(p, "holm")``. Monotone: a smaller raw
    p-value never gets a larger adjusted one. Assumes valid p-values; any dependence is fine.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def holm_interval_alphas(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Per-comparison interval levels consistent with the Holm decision at family ``alpha``.

    Method: alpha_i = alpha * p_i / p~_i (module docstring), clipped to [alpha / m, alpha];
    when p_i = 0 (so p~_i = 0) Holm's own step threshold alpha / (m - k + 1) is used.
    Guarantees: the interval at alpha_i excludes 0 iff p~_i < alpha.
    """
    check_alpha(alpha)
    m = len(p_values)
    adjusted = holm_adjust(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    rank_of = {i: rank for rank, i in enumerate(order)}
    levels = []
    for i, (raw, adj) in enumerate(zip(p_values, adjusted, strict=True)):
        level = alpha * raw / adj if adj > 0 else alpha / (m - rank_of[i])
        levels.append(min(alpha, max(alpha / m, level)))
    return levels


def _compare(method: Method, control, variant, alpha, tuning, interval_alpha=None):
    if method == "sequential":
        return sequential(control, variant, alpha, tuning, interval_alpha)
    if method == "fixed":
        return fixed_horizon(control, variant, alpha, interval_alpha)
    raise ValueError(f"method must be 'sequential' or 'fixed', not {method!r}")


def compare_variants(
    control: ArmStats | Moments,
    variants: Mapping[str, ArmStats | Moments] | Sequence[tuple[str, ArmStats | Moments]],
    alpha: float = 0.05,
    method: Method = "sequential",
    tuning: float = DEFAULT_TUNING,
    correction: bool = True,
    scale: Scale = "relative",
    controls: Sequence[ArmStats | Moments] | None = None,
) -> list[VariantResult]:
    """Compare every variant with control, Holm-correct the lift p-values, redo intervals.

    Method: :func:`apps.stats.sequential.sequential` (default; rho fixed from ``alpha`` and
    N* = ``tuning``) or :func:`apps.stats.frequentist.fixed_horizon`, then
    :func:`holm_adjust` on the lift p-values of ``scale`` (relative, or absolute:
    variant - control in the metric's own unit) and intervals at :func:`holm_interval_alphas`.
    Comparisons without enough data enter the family with p = 1. ``correction=False``
    leaves p-values and intervals unadjusted. The results carry ``scale``; verdicts are
    made on it. ``controls`` gives each variant its own control statistics (in the order of
    ``variants``), e.g. the phase-weighted ones of :func:`apps.stats.strata.stratified`.
    """
    check_alpha(alpha)
    if scale not in ("relative", "absolute"):
        raise ValueError(f"scale must be 'relative' or 'absolute', not {scale!r}")
    pairs = list(variants.items()) if isinstance(variants, Mapping) else list(variants)
    bases = list(controls) if controls is not None else [control] * len(pairs)
    if len(bases) != len(pairs):
        raise ValueError("give one control per variant")
    first = [
        _compare(method, base, stats, alpha, tuning)
        for base, (_, stats) in zip(bases, pairs, strict=True)
    ]
    raw = [getattr(c, scale).p_value for c in first]
    adjusted = holm_adjust(raw) if correction else list(raw)
    levels = holm_interval_alphas(raw, alpha) if correction else [alpha] * len(raw)
    results = []
    for base, (name, stats), p, adj, level in zip(bases, pairs, raw, adjusted, levels, strict=True):
        comparison = _compare(method, base, stats, alpha, tuning, level)
        results.append(VariantResult(name, comparison, p, adj, level, alpha, scale))
    return results


def bh_adjust(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    Method: Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57:
    sort the m p-values ascending; the adjusted value of the k-th smallest is
        q_(k) = min_{j >= k} min(1, m p_(j) / j),
    as R ``p.adjust(p, "BH")`` and ``scipy.stats.false_discovery_control(p, method="bh")``.
    Rejecting every q < alpha controls the false discovery rate at alpha when the tests are
    independent or positively dependent (PRDS; Benjamini & Yekutieli 2001), which several
    metrics of the same calls compared with the same control usually are.
    """
    m = len(p_values)
    if any(not 0.0 <= p <= 1.0 for p in p_values):  # NaN fails both comparisons
        raise ValueError("p-values must lie between 0 and 1")
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    adjusted = [0.0] * m
    running = 1.0
    for rank_from_top, i in enumerate(order):
        rank = m - rank_from_top  # 1-based rank in ascending order
        running = min(running, m * p_values[i] / rank)
        adjusted[i] = running
    return adjusted


def bh_interval_alpha(p_values: Sequence[float], alpha: float = 0.05) -> float:
    """The level of the intervals shown beside Benjamini-Hochberg decisions.

    Method: the false-coverage-rate adjusted intervals of Benjamini & Yekutieli (2005),
    "False discovery rate-adjusted multiple confidence intervals for selected parameters",
    JASA 100: with R of the m comparisons selected by BH at ``alpha``, each interval is built
    at level alpha R / m (alpha / m when none is selected). BH selects comparison i exactly
    when p_i <= alpha R / m, so an interval excludes 0 exactly when its comparison was
    selected (assuming, as for the Welch and always-valid intervals here, that the interval
    at level a excludes 0 iff p < a): the interval never contradicts the decision.
    """
    check_alpha(alpha)
    m = len(p_values)
    if m == 0:
        return alpha
    selected = sum(q < alpha for q in bh_adjust(p_values))
    return alpha * max(selected, 1) / m


def compare_with_fdr(
    pairs: Sequence[tuple[str, Moments, Moments]],
    alpha: float = 0.05,
    method: Method = "sequential",
    tuning: float = DEFAULT_TUNING,
) -> list[VariantResult]:
    """Compare many (name, control, variant) pairs, e.g. several secondary metrics times
    several variants, with a Benjamini-Hochberg correction across all of them.

    Method: :func:`apps.stats.sequential.sequential` (or fixed-horizon) on the absolute
    change variant - control; :func:`bh_adjust` on its p-values; every interval redone at
    :func:`bh_interval_alpha`. Comparisons without enough data enter with p = 1. Assumes
    valid p-values (always-valid ones stay valid under continuous monitoring) and tests that
    are independent or positively dependent, as BH needs.
    """
    check_alpha(alpha)
    first = [_compare(method, control, variant, alpha, tuning) for _, control, variant in pairs]
    raw = [c.absolute.p_value for c in first]
    adjusted = bh_adjust(raw)
    level = bh_interval_alpha(raw, alpha)
    results = []
    for (name, control, variant), p, q in zip(pairs, raw, adjusted, strict=True):
        comparison = _compare(method, control, variant, alpha, tuning, level)
        results.append(VariantResult(name, comparison, p, q, level, alpha, "absolute"))
    return results
