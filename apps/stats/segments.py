"""Segments: the goal's change per group of units (hour of day, country...), corrected for the
number of groups, and whether groups point in opposite directions.

Why a correction: with 24 hours of the day, one hour in twenty shows a "real" difference at 95%
by chance alone. Each group's range is computed at level alpha / k for k groups (Bonferroni:
Dunn 1961, "Multiple comparisons among means", JASA 56), so the chance that *any* group's
range misses its true change is at most alpha, for any dependence between the groups. Within a
group, several variants are Holm-corrected as on the main results
(:func:`apps.stats.correction.compare_variants`), which keeps the family-wise error at alpha
over groups and variants together. Each group's change is compared within each phase of the
split and combined (:func:`apps.stats.strata.stratified`), exactly as the main results, and
by the same always-valid confidence sequence by default, so a group may be looked at at any
time.

Assumptions: the groups are fixed before looking (the group of a unit is that of its first
call, so it cannot depend on the variant's effect on later calls); units are independent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .correction import compare_variants
from .sequential import DEFAULT_TUNING
from .strata import stratified
from .types import Method, Moments, VariantResult, check_alpha

Phases = Mapping[int, Moments]  # phase index -> the arm's Moments in that phase


@dataclass(frozen=True)
class Group:
    """One segment value: the control's and each variant's Moments per phase of the split."""

    label: str
    control: Phases
    variants: Sequence[tuple[str, Phases]]


def bonferroni_alpha(alpha: float, groups: int) -> float:
    """The level of each of `groups` ranges so that all of them hold at once with probability
    at least 1 - alpha.

    Method: Bonferroni, alpha / k (Dunn 1961). Assumes nothing about dependence between the
    groups; conservative when they are independent (Sidak's 1 - (1 - alpha)^(1/k) is a hair
    wider in level)."""
    check_alpha(alpha)
    if groups < 1:
        raise ValueError(f"the number of groups must be at least 1, not {groups!r}")
    return alpha / groups


def compare_groups(
    groups: Sequence[Group],
    alpha: float = 0.05,
    method: Method = "sequential",
    tuning: float = DEFAULT_TUNING,
) -> list[list[VariantResult]]:
    """Each group's variants against its control at the Bonferroni level for len(groups).

    Method: per group, per variant, the phases are combined by Mantel-Haenszel weights
    (:func:`apps.stats.strata.stratified`), then :func:`apps.stats.correction.compare_variants`
    (always-valid by default, Holm over the variants) at :func:`bonferroni_alpha`, on the
    absolute change (variant - control, in the metric's unit). Returns, per group in order,
    one VariantResult per variant; a group with too few units in an arm gets results whose
    estimate is not ``ok``."""
    if not groups:
        return []
    level = bonferroni_alpha(alpha, len(groups))
    return [_compare_group(group, level, method, tuning) for group in groups]


def _compare_group(group: Group, level: float, method: Method, tuning: float):
    pairs = [_stratified(group.control, phases) for _, phases in group.variants]
    return compare_variants(
        None,
        [(name, v) for (name, _), (_, v) in zip(group.variants, pairs, strict=True)],
        level,
        method=method,
        tuning=tuning,
        scale="absolute",
        controls=[c for c, _ in pairs],
    )


def _stratified(control: Phases, variant: Phases) -> tuple[Moments, Moments]:
    none = Moments(0, 0.0, 0.0)
    phases = sorted(set(control) | set(variant))
    return stratified([(control.get(k, none), variant.get(k, none)) for k in phases])


@dataclass(frozen=True)
class Directions:
    """How one variant's change reads across groups: `opposite` when one group's corrected
    range is wholly above zero and another's wholly below; `disagree` when only the point
    estimates have different signs (a softer note: it is often chance)."""

    opposite: bool
    disagree: bool
    above: tuple[str, ...]
    below: tuple[str, ...]


def directions(labels: Sequence[str], results: Sequence[VariantResult]) -> Directions:
    """Method: read the sign of each group's absolute change and of its corrected range
    (those from :func:`compare_groups`); groups without enough data are left out. Assumes
    `labels[i]` names the group of `results[i]` (one variant's result in each group)."""
    above, below, signs = [], [], set()
    for label, result in zip(labels, results, strict=True):
        estimate = result.comparison.absolute
        if not estimate.ok:
            continue
        if estimate.ci_low > 0:
            above.append(label)
        elif estimate.ci_high < 0:
            below.append(label)
        if estimate.value != 0:
            signs.add(estimate.value > 0)
    opposite = bool(above and below)
    return Directions(opposite, len(signs) == 2 and not opposite, tuple(above), tuple(below))
