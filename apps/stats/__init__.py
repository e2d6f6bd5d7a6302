"""Switchboard's statistics engine: pure functions on per-arm sufficient statistics.

This package is plain Python (numpy and scipy only). It must never import Django or
anything under ``apps.``: the views and tasks turn database rows into the frozen dataclasses
of :mod:`apps.stats.types` and call the functions here.

Modules
-------
types        inputs (MeanStats, ProportionStats, RatioStats), Moments, result dataclasses
moments      sufficient statistics -> (n, mean, per-unit variance)
frequentist  Welch t-test on the absolute and relative lift, pooled two-proportion z-test
sequential   always-valid confidence sequences and p-values (GrowthBook / Waudby-Smith)
bayesian     chance to beat control from a Gaussian on the relative lift
correction   Holm adjustment and several variants against one control
srm          sample ratio mismatch: anytime-valid Dirichlet-multinomial test per phase
strata       phases of the split as strata: Mantel-Haenszel-weighted differences
planning     calls needed per variant, days left
ratio        per-caller ratio metrics by the delta method
verdict      verdict codes (winning, losing, ..., changed) and the running intersection
sentences    plain-language sentences for the verdicts
simulate     seeded A/A and power simulations of the sequential rule
thompson     optimize mode: Thompson-sampling traffic weights
proportions  Wilson score interval for a single proportion
agreement    Cohen's kappa (how far the LLM judge agrees with people)

Conventions
-----------
* Lift is always (variant - control) / control. The goal direction ("higher" or "lower")
  only decides which sign is good.
* Not enough data (n < 2, zero variance, control mean 0) never raises: the result carries
  ``ok=False``, a plain ``note``, finite placeholder numbers (0 lift, 0 interval, p = 1).
"""
