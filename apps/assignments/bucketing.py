"""Which variant does this unit get? Pure functions; no Django, no I/O.

A unit (a caller, or a call in per-call experiments) is hashed with the experiment's salt into
one of 10,000 buckets, so the same unit always lands in the same bucket. Which variant owns
which bucket is the experiment's *layout*: a short list of ranges (start, end, variant id),
end excluded, covering the buckets once, each variant owning 100 per percent of its weight.

An experiment starts with consecutive ranges in a fixed order (control, b, c, ...), each as
wide as its weight (`consecutive_layout`, the same split as `upper_bounds`). From then on every
change of weights goes through `relayout`: a variant that lost share gives buckets away (from
the end of its ranges), a variant that gained receives them, and every other bucket keeps its
variant. So pausing c sends only c's callers, and only to the control; resuming gives c back
buckets taken from the control's end, which after a single pause are c's own former ones; a
slider move moves only the callers in the buckets that changed hands, the fewest possible.
A running experiment stored without a layout (older than layouts) reads as the consecutive
layout of its weights (`current_layout`), which is what it was served before.
"""

import hashlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence

BUCKETS = 10_000
PER_PERCENT = BUCKETS // 100

Layout = tuple[tuple[int, int, int], ...]  # (start, end, variant id), sorted, end excluded


def bucket(salt: str, unit: str) -> int:
    """The unit's bucket in [0, 10000): SHA-256 of "salt:unit", first 8 bytes, big-endian."""
    digest = hashlib.sha256(f"{salt}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def upper_bounds(weights: Sequence[int]) -> tuple[int, ...]:
    """Cumulative upper bucket bounds for whole-percent weights that add up to 100."""
    bounds, total = [], 0
    for weight in weights:
        total += weight * PER_PERCENT
        bounds.append(total)
    if total != BUCKETS:
        raise ValueError(f"weights add up to {total // 100}%, not 100%")
    return tuple(bounds)


def choose(bucket_number: int, bounds: Sequence[int]) -> int:
    """Index of the range whose (sorted) upper bound is the first above the bucket."""
    return bisect_right(bounds, bucket_number)


def consecutive_layout(weights: Mapping[int, int]) -> Layout:
    """Today's split as a layout: variants (in the mapping's order) own consecutive ranges."""
    ends = upper_bounds(list(weights.values()))
    starts = (0, *ends[:-1])
    return tuple(
        (start, end, variant)
        for start, end, variant in zip(starts, ends, weights, strict=True)
        if end > start
    )


def layout_bounds(layout: Layout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(upper bounds, variant ids) of the ranges, for `choose` on the hot path."""
    return tuple(end for _, end, _ in layout), tuple(variant for _, _, variant in layout)


def shares(layout) -> dict[int, int]:
    """Buckets owned per variant id."""
    owned: dict[int, int] = {}
    for start, end, variant in layout:
        owned[variant] = owned.get(variant, 0) + end - start
    return owned


def fits(layout, weights: Mapping[int, int]) -> bool:
    """Whether the layout covers every bucket once, 100 buckets per percent of weight."""
    ranges = sorted(tuple(r) for r in layout)
    covered = [start for start, _, _ in ranges] == [0, *(end for _, end, _ in ranges[:-1])]
    ends_right = bool(ranges) and ranges[-1][1] == BUCKETS
    wanted = {v: w * PER_PERCENT for v, w in weights.items() if w}
    return covered and ends_right and shares(ranges) == wanted


def current_layout(stored, weights: Mapping[int, int]) -> Layout:
    """The layout a running experiment serves: the stored one, or (none stored, or one that no
    longer fits the weights) the consecutive layout of its weights, as before layouts."""
    if stored and fits(stored, weights):
        return tuple(sorted(tuple(r) for r in stored))
    return consecutive_layout(weights)


def relayout(old_layout, old_weights: Mapping[int, int], new_weights: Mapping[int, int]) -> Layout:
    """The new layout after a change of weights, moving the fewest buckets.

    Each variant that lost share gives away its highest buckets (its ranges' ends), so it cuts
    at most one range; the freed buckets, in ascending order, go to the variants that gained,
    in `new_weights` order. Every other bucket keeps its variant. Weights are whole percents
    adding up to 100; a variant missing from one mapping has weight 0 there.
    """
    if not fits(old_layout, old_weights):
        raise ValueError("the old layout does not match the old weights")
    if any(w < 0 for w in new_weights.values()):
        raise ValueError("weights are from 0 to 100%")
    upper_bounds(list(new_weights.values()))  # refuses weights not adding up to 100
    variants = list(dict.fromkeys([*new_weights, *old_weights]))
    change = {v: (new_weights.get(v, 0) - old_weights.get(v, 0)) * PER_PERCENT for v in variants}
    kept = sorted([list(r) for r in old_layout], reverse=True)  # highest buckets first
    freed = []
    for variant in variants:
        need = -change[variant]
        for piece in (r for r in kept if r[2] == variant and need > 0):
            take = min(need, piece[1] - piece[0])
            freed.append((piece[1] - take, piece[1]))
            piece[1] -= take
            need -= take
    freed.sort()
    given = []
    for variant in (v for v in variants if change[v] > 0):
        need = change[variant]
        while need:
            start, end = freed.pop(0)
            take = min(need, end - start)
            given.append((start, start + take, variant))
            if start + take < end:
                freed.insert(0, (start + take, end))
            need -= take
    return _merged([tuple(r) for r in kept if r[1] > r[0]] + given)


def _merged(ranges) -> Layout:
    """Sorted, with touching ranges of the same variant joined, so the list stays short."""
    merged: list[tuple[int, int, int]] = []
    for start, end, variant in sorted(ranges):
        if merged and merged[-1][1] == start and merged[-1][2] == variant:
            merged[-1] = (merged[-1][0], end, variant)
        else:
            merged.append((start, end, variant))
    return tuple(merged)
