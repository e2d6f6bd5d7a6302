"""Which variant does this unit get? Pure functions; no Django, no I/O.

A unit (a caller, or a call in per-call experiments) is hashed with the experiment's salt into
one of 10,000 buckets. Variants own consecutive ranges of buckets in a fixed order (control,
b, c, ...), each as wide as its weight. So the same unit always lands in the same bucket; a
paused variant (weight 0) owns no bucket; and moving one slider only moves the units in the
range that changed hands.
"""

import hashlib
from bisect import bisect_right
from collections.abc import Sequence

BUCKETS = 10_000


def bucket(salt: str, unit: str) -> int:
    """The unit's bucket in [0, 10000): SHA-256 of "salt:unit", first 8 bytes, big-endian."""
    digest = hashlib.sha256(f"{salt}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def upper_bounds(weights: Sequence[int]) -> tuple[int, ...]:
    """Cumulative upper bucket bounds for whole-percent weights that add up to 100."""
    bounds, total = [], 0
    for weight in weights:
        total += weight * (BUCKETS // 100)
        bounds.append(total)
    if total != BUCKETS:
        raise ValueError(f"weights add up to {total // 100}%, not 100%")
    return tuple(bounds)


def choose(bucket_number: int, bounds: Sequence[int]) -> int:
    """Index of the variant whose range holds the bucket."""
    return bisect_right(bounds, bucket_number)
