"""Small helpers for the client's tests."""

import socket
import time


def call(agent, call_id, **fields):
    """A complete call report for a new call."""
    return {
        "call_id": call_id,
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_seconds": 61.0,
        "converted": False,
        "sentiment": 0.1,
        "transferred": False,
        "completed": True,
        "transcript": [{"speaker": "agent", "text": "Hello!", "start_seconds": 0}],
        **fields,
    }


def wait_for(condition, seconds=5.0):
    """Poll until condition() holds; the background sender runs on its own time."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("gave up waiting")
        time.sleep(0.02)


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
