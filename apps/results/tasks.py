"""Background work for results: thin entry points that call the services."""

from celery import shared_task

from apps.experiments.models import Experiment
from apps.results.services import results_compute, results_refresh_running


@shared_task(name="results.refresh_running")
def refresh_running() -> int:
    return results_refresh_running()


@shared_task(name="results.compute")
def compute(experiment_id: int) -> None:
    results_compute(experiment=Experiment.objects.get(pk=experiment_id))


@shared_task(name="results.freeze")
def freeze(experiment_id: int) -> None:
    results_compute(experiment=Experiment.objects.get(pk=experiment_id), frozen=True)
