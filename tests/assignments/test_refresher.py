"""A change made by an operator reaches a warm process's table by itself, within seconds."""

import pytest

from apps.assignments import exposures, table
from apps.assignments.models import Exposure
from apps.experiments.services import experiment_start, experiment_stop, weights_set
from tests.factories import make_agent, make_experiment, make_user
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_background_refresher_picks_up_changes_and_flushes_exposures(api, router_key, settings):
    settings.ASSIGNMENTS_REFRESH_SECONDS = 0.2
    settings.ASSIGNMENTS_FLUSH_SECONDS = 0.2
    user = make_user("ops", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    experiment_start(experiment=experiment, user=user)
    slug = experiment.agent.slug

    def answer():
        return api.post(
            "/api/v1/assignments", {"agent": slug, "caller": "+1"}, key=router_key
        ).json()

    assert answer()["experiment"] is not None  # warm; starts the refresher thread
    assert wait_for(lambda: Exposure.objects.exists(), seconds=10)
    weights_set(experiment=experiment, weights={"control": 0, "b": 100}, user=user)
    # The new split reaches the table within 5 s, as promised (caller "+1" may have been
    # in B already, so wait for the table's phase, not just for the answer).
    assert wait_for(lambda: table.current().routes[slug].phase == 3, seconds=5)
    assert answer()["variant"]["key"] == "b"
    experiment_stop(experiment=experiment, user=user)
    assert wait_for(lambda: answer()["experiment"] is None)
    # Counted separately before and after the split changed, and written by the thread.
    assert wait_for(
        lambda: {2, 3} <= set(Exposure.objects.values_list("phase", flat=True)), seconds=20
    )
    assert wait_for(lambda: exposures.pending() == {}, seconds=10)
    table.reset()
