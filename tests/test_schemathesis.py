"""schemathesis, every check, every operation of the API, against a live server on PostgreSQL.

The server is pytest-django's live server (a real HTTP server in a thread) over the test
database; each operation is tried with an admin key and with a router key, with bounded
examples so the whole run stays within a couple of minutes.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if callable(check)]


# One deliberate setting. `positive_data_acceptance` expects schema-valid data to be
# accepted, but some rules cannot be written in a schema: weights adding up to 100, one
# running experiment per agent, a new call naming an existing agent and its caller. Those
# refusals are a JSON 400 naming the rule, documented on every operation that writes.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "503"]
            }
        }
    }
)


def _schema():
    """The schema the site serves at /api/schema/, generated the same way (no server needed
    to collect the tests; every request still goes to the live server)."""
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(spec, config=CONFIG)


@pytest.fixture
def keys(transactional_db):
    from apps.accounts.services import api_key_create
    from apps.experiments.services import experiment_start
    from tests.factories import make_agent, make_experiment, make_user

    operator = make_user("ops", role="operator")
    agent = make_agent(name="Front desk", user=operator)
    make_experiment(agent=agent, user=operator)
    experiment_start(experiment=make_experiment(agent=agent, user=operator), user=operator)
    return [api_key_create(name=f"Fuzz {scope}", scope=scope)[1] for scope in ("admin", "router")]


schema = _schema()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_every_promise_of_its_schema(case, keys, live_server):
    for key in keys:
        case.call_and_validate(
            base_url=live_server.url,
            headers={"Authorization": f"Bearer {key}"},
            checks=ALL_CHECKS,
        )
