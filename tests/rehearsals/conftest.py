import pytest

from tests.rehearsals.sim_server import SimServer, point_settings_at


@pytest.fixture
def sim(settings):
    """The scripted agent, caller and judge, and every setting pointed at them."""
    with SimServer() as server:
        point_settings_at(settings, server)
        settings.SIMULATION_CONCURRENCY = 4
        yield server
