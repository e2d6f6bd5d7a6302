from celery import shared_task

from apps.outbox.services import outbox_drain


# Idempotent (rows are locked, sent, deleted): a worker lost mid-drain may run it again.
@shared_task(name="outbox.drain", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def drain() -> int:
    return outbox_drain()
