import pytest

from tests.rehearsals.sim_server import SimServer


@pytest.fixture
def sim(settings):
    """The scripted agent, caller and judge, and every setting pointed at them."""
    with SimServer() as server:
        settings.SIMULATION_BASE_URL = settings.JUDGE_BASE_URL = server.url
        settings.SIMULATION_API_KEY = settings.JUDGE_API_KEY = ""
        settings.SIMULATION_MODEL = "agent-test"
        settings.SIMULATION_CALLER_MODEL = "caller-test"
        settings.JUDGE_MODEL = "judge-test"
        settings.SIMULATION_TIMEOUT_SECONDS = settings.JUDGE_TIMEOUT_SECONDS = 2.0
        settings.SIMULATION_CONCURRENCY = 4
        yield server
