"""The client against the real Switchboard, served by pytest-django's live_server."""

import pytest
from switchboard_client import Client

from apps.experiments.services import experiment_start
from tests.clients.frontdoor import FrontDoor

# Small waits, so outages and retries cost milliseconds; nothing is sent on a timer unless a
# test asks for it. A generous assignment timeout: only the test of a slow Switchboard means
# to time out.
FAST = {"timeout": 2.0, "max_retries": 2, "backoff": 0.01, "max_backoff": 2.0, "flush_interval": 60}


@pytest.fixture
def door(live_server):
    door = FrontDoor(live_server.url)
    door.warm_up()
    yield door
    door.shut()


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


@pytest.fixture
def connect(door, router_key):
    """connect(**options) -> a Client through the front door, closed after the test."""
    clients = []

    def connect(url=None, key=None, **options):
        client = Client(url or door.url, key or router_key, **{**FAST, **options})
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
