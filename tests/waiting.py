"""Waiting for background work (threads, Celery workers) in tests, with a deadline."""

import time


def wait_for(predicate, seconds: float = 20.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
