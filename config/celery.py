import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_after_commit(task_name: str, *args, what: str = "") -> None:
    """Queue a task by name, with the current Celery app, once the transaction commits.

    By name, so a lower layer can ask for work of a higher one (experiments -> results,
    calls -> judging) without importing it. A broker that is down is logged, not raised:
    the change still stands, and the jobs that catch up (beat, resume) find the work.
    `what` says in the log what was not queued, e.g. "12 calls".
    """
    import logging

    from celery import current_app
    from django.db import transaction

    def send():
        try:
            current_app.signature(task_name, args=args).delay()
        except Exception as error:
            logging.getLogger(__name__).warning(
                "Could not queue %s%s: %r", task_name, f" for {what}" if what else "", error
            )

    transaction.on_commit(send)
