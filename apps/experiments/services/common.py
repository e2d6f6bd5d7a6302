"""What every experiment service shares: row locks, status checks, queued work."""

import logging

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.experiments.models import Experiment

log = logging.getLogger(__name__)


def _queue_after_commit(task_name: str, *args) -> None:
    """Queue a task of a higher layer by name once the change is committed.

    If the broker is unreachable the change still stands; the minute-by-minute beat job
    catches up (it freezes stopped experiments that have no frozen results).
    """

    def send():
        try:
            current_app.signature(task_name, args=args).delay()
        except Exception:
            log.warning("Could not queue %s%s; the beat job will catch up", task_name, args)

    transaction.on_commit(send)


def _locked(experiment: Experiment) -> Experiment:
    """The experiment re-read under a row lock, so concurrent writes queue up behind us."""
    return (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=experiment.pk)
    )


def _require_status(experiment: Experiment, allowed: set[str], doing: str) -> None:
    if experiment.status not in allowed:
        raise ValidationError(
            f"“{experiment.name}” is {experiment.get_status_display().lower()}; "
            f"{doing} only while it is {' or '.join(sorted(allowed))}.",
            code="status",
        )
