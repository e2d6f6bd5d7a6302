import pytest


@pytest.fixture(autouse=True)
def _fresh_metric_memo():
    """Each test reads the custom metrics from its own database rows."""
    from apps.metrics import registry

    registry.forget()
    yield
    registry.forget()
