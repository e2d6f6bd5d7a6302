"""At most SIMULATION_CONCURRENCY simulated conversations at once across every worker.

A counting semaphore in Redis (a sorted set of holders scored by when they took their slot,
taken and given back by atomic Lua scripts). A holder whose worker died loses its slot
after LEASE_SECONDS, so a crash never shrinks the pool for good. Waiting for a slot is
bounded (SIMULATION_SLOT_WAIT_SECONDS): past it the conversation is an error, not a hang.
Chosen over a Celery rate limit because that limits task starts per worker per time, not
how many conversations run at once across workers.

Without Redis (the embedded default, tasks in-process) there is one process: a threading
semaphore gives the same bound.
"""

import contextlib
import threading
import time
import uuid

import redis
from django.conf import settings

KEY = "switchboard:rehearsals:slots"
LEASE_SECONDS = 600  # longer than any conversation: max_turns x the endpoint's timeout
POLL_SECONDS = 0.05
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t, ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""
_local_lock = threading.Lock()
_local: dict[int, threading.BoundedSemaphore] = {}


class NoSlot(Exception):
    """No slot came free within the wait."""


def _client():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


@contextlib.contextmanager
def simulation_slot(wait: float | None = None):
    limit = max(1, settings.SIMULATION_CONCURRENCY)
    wait = settings.SIMULATION_SLOT_WAIT_SECONDS if wait is None else wait
    if not settings.REDIS_URL:
        with _local_lock:
            semaphore = _local.setdefault(limit, threading.BoundedSemaphore(limit))
        if not semaphore.acquire(timeout=wait):
            raise NoSlot(f"no simulation slot came free within {wait:g} s")
        try:
            yield
        finally:
            semaphore.release()
        return
    client, token = _client(), uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not client.eval(_ACQUIRE, 1, KEY, limit, LEASE_SECONDS, token):
        if time.monotonic() > deadline:
            raise NoSlot(f"no simulation slot came free within {wait:g} s")
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        client.zrem(KEY, token)
