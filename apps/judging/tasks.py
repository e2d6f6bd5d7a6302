"""Background work of the judge: thin entry points around the services.

`judging.judge_calls` is what ingestion and the judging services queue; it queues one
`judging.judge_call` per call the judge still has to read.
"""

import logging
import random

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings
from kombu.exceptions import OperationalError

from apps.judging import services
from apps.judging.client import JudgeRateLimited, JudgeUnavailable

log = logging.getLogger(__name__)
MAX_RETRIES = 6
BACKOFF_FIRST_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# A countdown longer than Redis's visibility timeout (CELERY_VISIBILITY_TIMEOUT) makes the
# broker deliver the task twice; an endpoint asking for longer gets asked again sooner, and
# says so again.
COUNTDOWN_CAP_SECONDS = min(
    1800.0, 0.75 * settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
)


def retry_countdown(retries: int, retry_after: float | None = None, *, rng=random.random) -> float:
    """Seconds before the next try: 2, 4, 8... capped at 300, each jittered down to as little
    as half so that calls failing together do not come back together, and never sooner than
    the endpoint's Retry-After."""
    backoff = min(BACKOFF_CAP_SECONDS, BACKOFF_FIRST_SECONDS * 2**retries)
    jittered = backoff * (0.5 + rng() / 2)
    return min(COUNTDOWN_CAP_SECONDS, max(jittered, retry_after or 0.0))


@shared_task(
    name="judging.judge_call", bind=True, max_retries=MAX_RETRIES, reject_on_worker_lost=True
)
def judge_call(self, call_id: int, criterion_id: int) -> int | None:
    try:
        judgement = services.judge_call(call_id=call_id, criterion_id=criterion_id)
    except JudgeRateLimited as error:
        return _try_again(self, call_id, criterion_id, error, error.retry_after_seconds)
    except JudgeUnavailable as error:
        return _try_again(self, call_id, criterion_id, error, None)
    return judgement.pk if judgement else None


def _try_again(task, call_id, criterion_id, error, retry_after) -> int | None:
    retries = task.request.retries
    if retries >= MAX_RETRIES:
        judgement = services.judge_call_failed(
            call_id=call_id,
            criterion_id=criterion_id,
            error=f"The judge did not answer after {retries + 1} tries (last: {error}).",
        )
        return judgement.pk if judgement else None
    raise task.retry(exc=error, countdown=retry_countdown(retries, retry_after))


@shared_task(name="judging.judge_calls", reject_on_worker_lost=True)
def judge_calls(call_ids: list[int]) -> int:
    pending = services.calls_to_judge(call_ids=call_ids)
    for call_id, criterion_id in pending:
        try:
            judge_call.delay(call_id, criterion_id)
        except (OperationalError, Retry) as error:
            # The broker is down, or (tasks running in-process) the judge asked us to come
            # back later: the call stays unjudged, and resuming judging catches it up.
            log.warning("Call %s not judged now: %s", call_id, error)
    return len(pending)
