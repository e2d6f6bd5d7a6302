"""The transactional outbox: write a task down with the change, send it after commit.

`outbox_add` writes a row in the caller's transaction, so the change and the work it needs
commit together or not at all. After commit, `outbox_send` tries once, promptly, with short
broker timeouts; whatever it could not send stays in the table, and the `outbox.drain` beat
task sends it later. Rows are sent at least once (a send may succeed just before a crash that
keeps its row), so the tasks queued this way are idempotent.

At the bottom of the import graph: it knows Celery and Django, no app above it.
"""

import logging
import threading
import time

from celery import current_app
from django.db import transaction
from django.db.models import F

from apps.outbox.models import Message

log = logging.getLogger(__name__)
# A request must not wait on a hung broker: one attempt, short socket waits.
PROMPT_TRANSPORT = {
    "socket_connect_timeout": 0.25,
    "socket_timeout": 0.25,
    "max_retries": 0,
    "connect_retries_timeout": 0.25,
}
# After a failed send, requests leave sending to the drain for this long (cost: nothing).
BROKER_AWAY_SECONDS = 10.0
DRAIN_BATCH = 500


class _Broker:
    """When each broker (by URL) last failed a send, so requests stop trying it for a while."""

    lock = threading.Lock()
    away_until: dict[str, float] = {}

    @classmethod
    def is_away(cls, url: str) -> bool:
        return time.monotonic() < cls.away_until.get(url, 0.0)

    @classmethod
    def failed(cls, url: str) -> None:
        with cls.lock:
            cls.away_until[url] = time.monotonic() + BROKER_AWAY_SECONDS

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.away_until.clear()


def outbox_add(task_name: str, args: list, what: str = "") -> Message:
    return Message.objects.create(task_name=task_name, args=list(args), what=what[:200])


def _publish(messages: list[Message], transport_options: dict | None) -> list[int]:
    """Send each message; the ids sent, in order, up to the first failure."""
    app = current_app
    sent = []
    try:
        with app.connection_for_write(transport_options=transport_options) as connection:
            for message in messages:
                app.signature(message.task_name, args=message.args).apply_async(
                    connection=connection, retry=False
                )
                sent.append(message.pk)
    except Exception as error:
        _Broker.failed(app.conf.broker_url)
        failed = [m.pk for m in messages if m.pk not in set(sent)]
        Message.objects.filter(pk__in=failed[:1]).update(
            attempts=F("attempts") + 1, last_error=repr(error)[:1000]
        )
        for message in messages:
            if message.pk in failed:
                log.warning("Could not queue %s now, the outbox drain will: %r", message, error)
    return sent


def _run_here(ids: list[int]) -> int:
    """Embedded default (tasks in-process): take the rows and run their work now, as before,
    outside any transaction of ours. A task that fails is logged, as a worker would."""
    with transaction.atomic():
        messages = list(Message.objects.filter(pk__in=ids).select_for_update(skip_locked=True))
        Message.objects.filter(pk__in=[m.pk for m in messages]).delete()
    for message in messages:
        try:
            current_app.signature(message.task_name, args=message.args).apply_async()
        except Exception:
            log.exception("Task %s failed", message)
    return len(messages)


def outbox_send(ids: list[int]) -> int:
    """Send these rows now if the broker answers at once; else leave them to the drain."""
    if current_app.conf.task_always_eager:
        return _run_here(ids)
    if _Broker.is_away(current_app.conf.broker_url):
        return 0
    try:
        with transaction.atomic():
            messages = list(Message.objects.filter(pk__in=ids).select_for_update(skip_locked=True))
            sent = _publish(messages, PROMPT_TRANSPORT)
            Message.objects.filter(pk__in=sent).delete()
    except Exception:  # the database went away after the commit: the drain will send it
        log.warning("Outbox rows %s left to the drain", ids, exc_info=True)
        return 0
    return len(sent)


def outbox_drain(batch: int = DRAIN_BATCH) -> int:
    """Send every unsent row, oldest first; rows another process holds are skipped."""
    total = 0
    if current_app.conf.task_always_eager:
        return _run_here(list(Message.objects.values_list("pk", flat=True)[:batch]))
    while True:
        with transaction.atomic():
            messages = list(Message.objects.select_for_update(skip_locked=True)[:batch])
            if not messages:
                return total
            sent = _publish(messages, None)
            Message.objects.filter(pk__in=sent).delete()
        total += len(sent)
        if len(sent) < len(messages):
            return total
