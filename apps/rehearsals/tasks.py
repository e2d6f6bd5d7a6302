"""`rehearsals.run`: a thin entry point that loads an evaluation and runs it.

Queued through the outbox (at least once): evaluation_run is idempotent and resumes a run
a lost worker left half done.
"""

from celery import shared_task

from apps.rehearsals.models import Evaluation
from apps.rehearsals.services import evaluation_run


@shared_task(name="rehearsals.run", reject_on_worker_lost=True)
def run(evaluation_id: int) -> str | None:
    evaluation = Evaluation.objects.filter(pk=evaluation_id).first()
    if evaluation is None:  # deleted with its agent before the worker got to it
        return None
    return evaluation_run(evaluation=evaluation).status


@shared_task(name="rehearsals.nightly", reject_on_worker_lost=True)
def nightly(check_id: int) -> float | None:
    """Run one claimed night and announce a drop (once: the announcement is claimed too)."""
    from apps.rehearsals.models import NightlyCheck
    from apps.rehearsals.nightly import nightly_finish

    check = NightlyCheck.objects.filter(pk=check_id).exclude(evaluation=None).first()
    return None if check is None else nightly_finish(check=check).pass_rate


@shared_task(name="rehearsals.nightlies", acks_late=False)
def nightlies() -> int:
    from apps.rehearsals.nightly import nightlies_start_due

    return nightlies_start_due()
