"""Seeded simulations: does the sequential rule keep its promise under peeking?

Each simulated experiment has two arms with 0/1 outcomes (conversion). After every look
``calls_per_look`` more calls arrive in *each* arm; the cumulative sufficient statistics
(n, conversions) are analysed at every look with the very formulas of the engine
(delta-method relative lift, Welch t, the GrowthBook/Waudby-Smith confidence sequence),
vectorised with numpy over experiments x looks.

* :func:`aa_false_positive_rates`: no true difference (A/A). The share of experiments in
  which the sequential interval *ever* excludes 0 should stay at or below alpha; the share
  in which a fixed-horizon p < alpha at *some* look (peeking) is far above alpha.
* :func:`power_check`: a true relative lift; the share of experiments that detect it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .frequentist import relative_lift_variance, welch_satterthwaite_dof
from .sequential import DEFAULT_TUNING, sequential_halfwidth, sequential_rho


@dataclass(frozen=True)
class SimulationResult:
    """Shares of experiments, among ``experiments``, meeting each criterion.

    ``*_ever``: at any of the looks; ``*_final``: at the last look only. In an A/A run these
    are false-positive rates (either direction); in a power run they count detections in the
    true direction (lift > 0).
    """

    sequential_ever: float
    fixed_ever: float
    sequential_final: float
    fixed_final: float
    experiments: int
    looks: int
    calls_per_look: int
    baseline: float
    relative_lift: float
    seconds: float


def cumulative_conversions(rng, experiments, looks, calls_per_look, rate):
    """Cumulative conversions, shape (experiments, looks): Binomial(calls_per_look, rate)
    new conversions per look, summed over looks (the running sufficient statistic)."""
    return rng.binomial(calls_per_look, rate, size=(experiments, looks)).cumsum(axis=1)


def look_decisions(n, conv_c, conv_v, alpha=0.05, tuning=DEFAULT_TUNING):
    """Relative lift and, per look, (sequential low, sequential high, fixed-horizon p).

    Method: per cell, proportions p = conv / n with variance p(1 - p); delta-method
    relative variance; sequential half-width with s2 = se^2 * 2n and total n = 2n; Welch
    t p-value. Cells that can't be analysed (control rate 0, zero variance) get an interval
    of (-inf, inf) and p = 1, i.e. never count as significant.
    """
    m_c, m_v = conv_c / n, conv_v / n
    v_c, v_v = m_c * (1.0 - m_c), m_v * (1.0 - m_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = relative_lift_variance(m_c, v_c, n, m_v, v_v, n)
        valid = (m_c > 0) & np.isfinite(var) & (var > 0)
        se = np.sqrt(np.where(valid, var, 1.0))
        lift = np.where(valid, (m_v - m_c) / np.where(m_c > 0, m_c, 1.0), 0.0)
        dof = welch_satterthwaite_dof(v_c, n, v_v, n)
    half = sequential_halfwidth(se**2 * 2 * n, 2 * n, alpha, sequential_rho(alpha, tuning))
    half = np.where(valid, half, np.inf)
    dof = np.where(valid & np.isfinite(dof) & (dof > 0), dof, 1.0)
    p_fixed = np.where(valid, 2.0 * sps.t.sf(np.abs(lift) / se, dof), 1.0)
    return lift, lift - half, lift + half, p_fixed


def _run(experiments, looks, calls_per_look, baseline, relative_lift, seed, alpha, tuning):
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    conv_c = cumulative_conversions(rng, experiments, looks, calls_per_look, baseline)
    rate_v = baseline * (1.0 + relative_lift)
    conv_v = cumulative_conversions(rng, experiments, looks, calls_per_look, rate_v)
    n = calls_per_look * np.arange(1, looks + 1, dtype=float)
    lift, low, high, p_fixed = look_decisions(n, conv_c, conv_v, alpha, tuning)
    if relative_lift == 0:
        seq, fixed = (low > 0) | (high < 0), p_fixed < alpha
    else:
        seq, fixed = low > 0, (p_fixed < alpha) & (lift > 0)
    return SimulationResult(
        float(seq.any(axis=1).mean()), float(fixed.any(axis=1).mean()),
        float(seq[:, -1].mean()), float(fixed[:, -1].mean()),
        experiments, looks, calls_per_look, baseline, relative_lift,
        time.perf_counter() - start,
    )  # fmt: skip


def aa_false_positive_rates(
    experiments: int = 2000,
    looks: int = 100,
    calls_per_look: int = 50,
    seed: int = 20240501,
    baseline: float = 0.2,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> SimulationResult:
    """A/A simulation: how often does each rule cry "significant" with no true difference?

    Method: see module docstring; both arms convert at ``baseline``. ``sequential_ever``
    is the share of experiments whose sequential interval excluded 0 at any look (should be
    <= alpha, Waudby-Smith et al. 2023); ``fixed_ever`` the share with a fixed-horizon
    Welch p < alpha at any look (the peeking problem; Johari et al. 2017, "Peeking at A/B
    tests", KDD). Seeded, so results are reproducible.
    """
    return _run(experiments, looks, calls_per_look, baseline, 0.0, seed, alpha, tuning)


def power_check(
    relative_lift: float = 0.20,
    experiments: int = 1000,
    looks: int = 100,
    calls_per_look: int = 50,
    seed: int = 20240502,
    baseline: float = 0.2,
    alpha: float = 0.05,
    tuning: float = DEFAULT_TUNING,
) -> SimulationResult:
    """Power simulation: how often is a true relative lift detected (in the right direction)?

    Method: see module docstring; the variant converts at baseline * (1 + relative_lift).
    ``sequential_ever`` is the share whose sequential interval lay entirely above 0 at some
    look (a valid stopping rule); ``fixed_final`` the share with fixed-horizon p < alpha
    and a positive lift at the final look (the valid use of a fixed-horizon test).
    """
    return _run(experiments, looks, calls_per_look, baseline, relative_lift, seed, alpha, tuning)
