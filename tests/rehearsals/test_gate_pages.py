"""The rehearsal section of the experiment page: states, Rehearse, the manager's override."""

import pytest
from django.urls import reverse

from apps.agents.services import clean_config
from apps.audit.models import AuditEntry
from apps.rehearsals.models import Evaluation, GateOverride
from apps.rehearsals.services import experiment_gate_override
from tests.rehearsals.helpers import ALSO_GOOD, FORGETFUL
from tests.rehearsals.test_gate import gated, rehearse

pytestmark = pytest.mark.django_db


def section(client, experiment) -> str:
    response = client.get(reverse("gate:section", args=[experiment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_experiment_page_loads_the_rehearsal_section(client, operator, experiment):
    client.force_login(operator)
    page = client.get(experiment.get_absolute_url()).content.decode()
    assert f'hx-get="{reverse("gate:section", args=[experiment.pk])}"' in page


def test_an_agent_without_scenarios_gets_the_notice(client, operator, experiment):
    client.force_login(operator)
    assert "No rehearsal scenarios: this test starts without rehearsal." in section(
        client, experiment
    )


def test_a_failed_rehearsal_reads_in_words_with_rehearse_for_operators(
    client, sim, operator, django_capture_on_commit_callbacks
):
    experiment = gated(operator, FORGETFUL)
    rehearse(experiment, django_capture_on_commit_callbacks, operator)
    client.force_login(operator)
    html = section(client, experiment)
    assert "rehearsal-failed" in html and "Variant B&#x27;s rehearsal failed" in html
    assert reverse("gate:rehearse", args=[experiment.pk, "b"]) in html
    assert "Override the gate" not in html  # operators cannot override


def test_rehearse_starts_an_evaluation_with_the_effective_configs(
    client, sim, operator, django_capture_on_commit_callbacks
):
    experiment = gated(operator, ALSO_GOOD)
    agent = experiment.agent
    agent.config = {"model": "agent-test", "temperature": 0.2}
    agent.save(update_fields=["config"])
    experiment.variants.filter(key="b").update(config_overrides={"temperature": 0.7})
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("gate:rehearse", args=[experiment.pk, "b"]))
    assert response.status_code == 302
    evaluation = Evaluation.objects.get(experiment=experiment)
    assert evaluation.variant_config == clean_config({"model": "agent-test", "temperature": 0.7})
    assert evaluation.control_config == {"model": "agent-test", "temperature": 0.2}
    assert evaluation.margin == agent.rehearsal_margin and evaluation.status == "queued"
    assert "is still running" in section(client, experiment)


def test_a_viewer_cannot_rehearse(client, sim, viewer, operator):
    experiment = gated(operator, ALSO_GOOD)
    client.force_login(viewer)
    assert client.post(reverse("gate:rehearse", args=[experiment.pk, "b"])).status_code == 403
    assert not Evaluation.objects.exists()


def test_a_manager_overrides_from_the_page_and_the_entry_shows(client, sim, operator, manager):
    experiment = gated(operator, FORGETFUL)
    client.force_login(manager)
    assert "Override the gate" in section(client, experiment)
    url = reverse("gate:override", args=[experiment.pk])
    assert client.post(url, {"reason": "Launch promised <today>."}).status_code == 302
    assert GateOverride.objects.get().reason == "Launch promised <today>."
    html = section(client, experiment)
    assert "overrode the rehearsal gate" in html and "Launch promised &lt;today&gt;." in html
    assert "Override the gate" not in html
    started = client.post(reverse("experiments:start", args=[experiment.pk]), follow=True)
    assert "Started." in started.content.decode()


def test_the_page_shows_the_refusal_when_start_is_pressed(client, sim, operator):
    experiment = gated(operator, FORGETFUL)
    client.force_login(operator)
    page = client.post(reverse("experiments:start", args=[experiment.pk]), follow=True)
    assert "Variant B has not been rehearsed against the control yet." in page.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == "draft"


def test_an_operator_posting_an_override_is_refused(client, sim, operator):
    experiment = gated(operator, FORGETFUL)
    client.force_login(operator)
    assert (
        client.post(reverse("gate:override", args=[experiment.pk]), {"reason": "x"}).status_code
        == 403
    )
    assert not GateOverride.objects.exists()


def test_an_empty_reason_on_the_page_says_so(client, sim, operator, manager):
    experiment = gated(operator, FORGETFUL)
    client.force_login(manager)
    page = client.post(reverse("gate:override", args=[experiment.pk]), {"reason": " "}, follow=True)
    assert "Write why the experiment may start without passing." in page.content.decode()
    assert not AuditEntry.objects.filter(action="experiment.gate_override").exists()


def test_an_override_that_no_longer_holds_says_so(client, sim, operator, manager):
    from apps.experiments.services import variant_update

    experiment = gated(operator, FORGETFUL)
    experiment_gate_override(experiment=experiment, user=manager, reason="Fine for now.")
    b = experiment.variants.get(key="b")
    variant_update(variant=b, name=b.name, body=FORGETFUL + " Hurry.", user=operator)
    client.force_login(manager)
    html = section(client, experiment)
    assert "This no longer holds" in html and "Override the gate" in html
