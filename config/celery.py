import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_after_commit(task_name: str, *args, what: str = "") -> None:
    """Write a task down in the caller's transaction; send it, by name, once that commits.

    By name, so a lower layer can ask for work of a higher one (experiments -> results,
    calls -> judging) without importing it. The task is an outbox row (apps/outbox) that
    commits with the change or not at all. After commit one prompt try is made with short
    broker timeouts (a hung Redis costs a request a fraction of a second once, then nothing
    for a while); what is not sent stays written down, and the `outbox.drain` beat task sends
    it when the broker is back. Sent at least once: such tasks must be idempotent. Without
    Redis (tasks in-process) the task still runs at once, after commit. `what` says in the
    log what was not queued, e.g. "12 calls".
    """
    from django.db import transaction

    from apps.outbox.services import outbox_add, outbox_send

    message = outbox_add(task_name, list(args), what)
    transaction.on_commit(lambda: outbox_send([message.pk]))


@signals.celeryd_init.connect
def _worker_statement_timeout(**_):
    """Workers run the heavy aggregations: they get their own (longer) statement timeout.
    A hung server is still noticed by the backend's hang check (config/postgres).
    Sent by `celery worker` before its pool forks, so the pool's processes inherit it."""
    from django.conf import settings
    from django.db import connections

    seconds = settings.DATABASE_WORKER_STATEMENT_TIMEOUT
    for alias in connections:
        options = connections[alias].settings_dict.get("OPTIONS", {})
        if "statement_timeout" in options.get("options", ""):
            options["options"] = f"-c statement_timeout={seconds * 1000}"
            connections[alias].close()
