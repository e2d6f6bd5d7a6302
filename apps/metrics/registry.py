"""Each agent's custom metrics, memoised in the process and invalidated by one generation.

Results refresh every few seconds for every running experiment, and pages and forms ask for
an agent's metrics many times a request, so the rows are read once and kept. A create or a
delete replaces one generation token in the shared cache (Redis in production): at once,
so that the writer's own next read sees it, and again after commit, so that a reader who
loaded the rows just before the commit does not keep them. A memo also lasts at most
MAX_AGE_SECONDS, so a token change lost while Redis was away costs at most that long; while
the cache cannot be read, nothing is memoised. In the embedded default (one process, local
memory cache) the token lives in that process.
"""

import logging
import time
import uuid

from django.core.cache import cache
from django.db import connection, transaction

from apps.metrics import Metric

log = logging.getLogger(__name__)
GENERATION = "metrics:custom:generation"
MAX_AGE_SECONDS = 60.0
_memo: dict[int, tuple[str, float, dict[str, Metric]]] = {}


def custom_metrics(agent_id: int) -> dict[str, Metric]:
    """The agent's custom metrics by key, in key order."""
    token = _generation()
    hit = _memo.get(agent_id)
    if (
        token is not None
        and hit
        and hit[0] == token
        and time.monotonic() - hit[1] < MAX_AGE_SECONDS
    ):
        return hit[2]
    metrics = _load(agent_id)
    if token is not None:
        _memo[agent_id] = (token, time.monotonic(), metrics)
    return metrics


def _load(agent_id: int) -> dict[str, Metric]:
    from apps.metrics.models import CustomMetric

    rows = CustomMetric.objects.filter(agent_id=agent_id).order_by("key")
    return {row.key: row.as_metric(connection.vendor) for row in rows}


def _generation() -> str | None:
    try:
        token = cache.get(GENERATION)
        if token is None:
            cache.add(GENERATION, uuid.uuid4().hex, None)
            token = cache.get(GENERATION)
        return token
    except Exception as error:  # Redis away: read the rows every time, never fail the caller
        log.warning("Custom metrics read without memo: the cache is unavailable (%s)", error)
        return None


def generation_bump() -> None:
    """Every process reloads the custom metrics at its next read, now and after commit."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.set(GENERATION, uuid.uuid4().hex, None)
    except Exception as error:
        log.warning("Custom metrics changed while the cache was unavailable (%s)", error)


def forget() -> None:
    """Drop this process's memo (tests)."""
    _memo.clear()
