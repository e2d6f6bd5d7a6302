"""Exposure counts: added up in memory per request, written to PostgreSQL every few seconds."""

import threading
from collections import Counter

from django.db import connection, transaction

_counts: Counter = Counter()
_lock = threading.Lock()

UPSERT = """
INSERT INTO assignments_exposure (experiment_id, variant_id, phase, count)
VALUES (%s, %s, %s, %s)
ON CONFLICT (variant_id, phase) DO UPDATE SET count = assignments_exposure.count + EXCLUDED.count
"""


def count(experiment_id: int, variant_id: int, phase: int) -> None:
    with _lock:
        _counts[experiment_id, variant_id, phase] += 1


def pending() -> dict:
    with _lock:
        return dict(_counts)


def flush() -> int:
    """Write the counts gathered so far; on failure they are kept for the next flush."""
    global _counts
    with _lock:
        batch, _counts = _counts, Counter()
    if not batch:
        return 0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(UPSERT, [(*key, n) for key, n in batch.items()])
    except Exception:
        with _lock:
            _counts.update(batch)
        raise
    return sum(batch.values())


def flush_discard() -> None:
    """Drop counts not yet written (tests start from nothing)."""
    with _lock:
        _counts.clear()
