import pytest

from apps.rehearsals import simulate
from tests.rehearsals.sim_server import SimServer, point_settings_at


@pytest.fixture
def slept(monkeypatch):
    """The waits between tries, in seconds, recorded instead of slept."""
    waits = []
    monkeypatch.setattr(simulate, "sleep", waits.append)
    return waits


@pytest.fixture
def sim(settings, slept):
    """The scripted agent, caller and judge, and every setting pointed at them."""
    with SimServer() as server:
        point_settings_at(settings, server)
        settings.SIMULATION_CONCURRENCY = 4
        yield server
