"""`manage.py background`: Celery beat's schedule, run in this process.

The embedded default (`make run` without REDIS_URL) has no Celery worker or beat, so nothing
recomputed running experiments' results or checked their guardrails: the results panel kept
its first snapshot. `scripts/run` starts this beside the web server there. With Redis, beat
and the worker do this work and this command is not needed.
"""

import logging
import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger(__name__)


def due(schedule: dict, last_run: dict, now: float) -> list[str]:
    """Names of the scheduled tasks whose interval has passed (all of them on the first tick)."""
    return [
        entry["task"]
        for name, entry in schedule.items()
        if now - last_run.get(name, float("-inf")) >= float(entry["schedule"])
    ]


def tick(schedule: dict, last_run: dict, now: float) -> list[str]:
    """Run what is due, each on its own: one task failing is logged and the others still run."""
    ran = []
    for name, entry in schedule.items():
        if entry["task"] not in due({name: entry}, last_run, now):
            continue
        last_run[name] = now
        try:
            current_app.tasks[entry["task"]].apply(throw=True)
            ran.append(entry["task"])
        except Exception:
            log.exception("Background task %s failed; it runs again at its next turn", name)
    return ran


class Command(BaseCommand):
    help = "Run Celery beat's schedule in this process (the embedded default has no Celery)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every task once and stop.")
        parser.add_argument(
            "--every", type=float, default=5.0, help="Seconds between looks at the schedule."
        )

    def handle(self, *args, once=False, every=5.0, **options):
        current_app.loader.import_default_modules()  # every app's tasks.py, as a worker does
        schedule, last_run = settings.CELERY_BEAT_SCHEDULE, {}
        self.stdout.write(f"Background jobs in this process: {', '.join(schedule)}.")
        while True:
            tick(schedule, last_run, time.monotonic())
            if once:
                return
            time.sleep(every)
