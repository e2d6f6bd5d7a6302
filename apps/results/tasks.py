"""Background work for results: thin entry points that call the services."""

from celery import shared_task

from apps.experiments.models import Experiment
from apps.results.safety import alert_send
from apps.results.services import (
    results_compute_or_record,
    results_optimize_running,
    results_refresh_running,
)


@shared_task(name="results.refresh_running")
def refresh_running() -> int:
    return results_refresh_running()


@shared_task(name="results.compute")
def compute(experiment_id: int) -> None:
    results_compute_or_record(experiment=Experiment.objects.get(pk=experiment_id))


@shared_task(name="results.freeze")
def freeze(experiment_id: int) -> None:
    # A freeze that fails is recorded on the experiment; the minute's refresh retries it.
    results_compute_or_record(experiment=Experiment.objects.get(pk=experiment_id), frozen=True)


@shared_task(name="results.optimize")
def optimize() -> int:
    return results_optimize_running()


@shared_task(name="results.send_alert", bind=True, max_retries=5)
def send_alert(self, text: str, link: str) -> None:
    try:
        alert_send(text=text, link=link)
    except Exception as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
