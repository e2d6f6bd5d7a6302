"""Background work for results: thin entry points that call the services.

Every task here is idempotent (snapshots are recomputed, a frozen one is stored once), so a
worker lost mid-task hands its message back (reject_on_worker_lost, with late acks) rather
than lose it; an alert may then be sent twice, which beats not at all. The digest is the
exception: sent at most once per period (apps/results/digest.py).
"""

from celery import shared_task

from apps.experiments.models import Experiment
from apps.results.digest import digests_send_due
from apps.results.safety import alert_send
from apps.results.services import (
    results_compute_or_record,
    results_optimize_running,
    results_prune_snapshots,
    results_refresh_running,
)


@shared_task(name="results.refresh_running", reject_on_worker_lost=True)
def refresh_running() -> int:
    return results_refresh_running()


@shared_task(name="results.compute", reject_on_worker_lost=True)
def compute(experiment_id: int) -> None:
    results_compute_or_record(experiment=Experiment.objects.get(pk=experiment_id))


@shared_task(name="results.freeze", reject_on_worker_lost=True)
def freeze(experiment_id: int) -> None:
    # A freeze that fails is recorded on the experiment; the minute's refresh retries it.
    results_compute_or_record(experiment=Experiment.objects.get(pk=experiment_id), frozen=True)


@shared_task(name="results.prune_snapshots", reject_on_worker_lost=True)
def prune_snapshots() -> int:
    return results_prune_snapshots()


@shared_task(name="results.optimize", reject_on_worker_lost=True)
def optimize() -> int:
    return results_optimize_running()


@shared_task(name="results.send_alert", bind=True, max_retries=5, reject_on_worker_lost=True)
def send_alert(self, text: str, link: str, subject: str | None = None) -> None:
    try:
        alert_send(text=text, link=link, **({"subject": subject} if subject else {}))
    except Exception as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error


@shared_task(name="results.send_digests", acks_late=False)
def send_digests() -> int:
    return digests_send_due()


# At most once: the period was claimed before this was queued, and it is neither retried nor
# handed back by a lost worker, since a webhook that timed out may have posted it already.
@shared_task(name="results.send_digest", acks_late=False)
def send_digest(text: str, link: str, subject: str) -> None:
    alert_send(text=text, link=link, subject=subject)
