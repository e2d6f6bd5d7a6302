"""Every page needs a login; what a role may do is checked on the server."""

import pytest
from django.urls import reverse

from apps.agents.services import agent_prompt_update
from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(experiment):
    agent = experiment.agent
    return [
        reverse("agents:list"),
        reverse("agents:detail", args=[agent.slug]),
        reverse("experiments:list"),
        reverse("experiments:list") + "?status=draft",
        reverse("experiments:detail", args=[experiment.pk]),
        reverse("audit:log"),
    ]


def test_every_page_sends_anonymous_people_to_the_login(client, pages):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_every_page_renders_for_a_viewer(client, viewer, pages):
    client.force_login(viewer)
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_login_with_a_wrong_password_says_so(client, viewer):
    response = client.post(reverse("login"), {"username": "victor", "password": "nope"})
    assert response.status_code == 200
    assert "did not match an account" in response.text


def test_login_then_lands_on_agents(client, viewer):
    from tests.factories import PASSWORD

    response = client.post(reverse("login"), {"username": "victor", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("agents:list")


def test_agent_page_shows_current_prompt_and_history(client, viewer, agent, operator):
    agent_prompt_update(agent=agent, body="Be brief & kind.", user=operator, note="shorter")
    client.force_login(viewer)
    response = client.get(reverse("agents:detail", args=[agent.slug]))
    assert "Be brief &amp; kind." in response.text
    assert 'id="v1"' in response.text and 'id="v2"' in response.text
    assert "shorter" in response.text


def test_agents_list_shows_each_agent(client, viewer, agent):
    client.force_login(viewer)
    response = client.get(reverse("agents:list"))
    assert agent.name in response.text


def test_empty_agents_list_says_what_to_do(client, viewer):
    client.force_login(viewer)
    assert "No agents yet" in client.get(reverse("agents:list")).text


def test_viewer_sees_no_rollback_button_and_is_refused(client, viewer, agent, operator):
    agent_prompt_update(agent=agent, body="Be brief.", user=operator)
    client.force_login(viewer)
    page = client.get(reverse("agents:detail", args=[agent.slug]))
    assert "Make v1 current" not in page.text
    response = client.post(reverse("agents:rollback", args=[agent.slug, 1]))
    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.current_version.number == 2


def test_operator_rolls_back_from_the_agent_page(client, operator, agent):
    agent_prompt_update(agent=agent, body="Be brief.", user=operator)
    client.force_login(operator)
    page = client.get(reverse("agents:detail", args=[agent.slug]))
    assert "Make v1 current" in page.text
    response = client.post(
        reverse("agents:rollback", args=[agent.slug, 1]), {"reason": "v2 too curt"}, follow=True
    )
    assert "now uses v1" in response.text
    agent.refresh_from_db()
    assert agent.current_version.number == 1
    assert AuditEntry.objects.get(action="prompt.rollback").reason == "v2 too curt"


def test_rollback_refusal_is_shown_not_raised(client, operator, agent):
    client.force_login(operator)
    response = client.post(reverse("agents:rollback", args=[agent.slug, 1]), follow=True)
    assert "v1 is the current prompt already." in response.text


def test_rollback_needs_post(client, operator, agent):
    client.force_login(operator)
    assert client.get(reverse("agents:rollback", args=[agent.slug, 1])).status_code == 405


def test_audit_log_filters_by_action(client, viewer, experiment):
    client.force_login(viewer)
    response = client.get(reverse("audit:log") + "?action=experiment.weights")
    assert "<td>changed the traffic split</td>" in response.text
    assert "<td>created the agent</td>" not in response.text
    assert 'control: <span class="muted">100</span> → 50' in response.text


def test_experiment_page_shows_variants_and_weights(client, viewer, experiment):
    client.force_login(viewer)
    response = client.get(reverse("experiments:detail", args=[experiment.pk]))
    assert "Variant B" in response.text and "50%" in response.text
    assert "Transfer rate" in response.text


def test_missing_pages_are_404(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("agents:detail", args=["nobody"])).status_code == 404
    assert client.get(reverse("experiments:detail", args=[999999])).status_code == 404


def test_audit_log_filters_by_person_and_text(client, viewer, experiment, operator):
    from apps.audit.services import audit_record

    audit_record(actor="key:ci", action="experiment.stop", obj=experiment, reason="nightly")
    client.force_login(viewer)
    by_key = client.get(reverse("audit:log") + "?who=key:ci").text
    assert "nightly" in by_key and "drafted the experiment" not in by_key
    by_text = client.get(reverse("audit:log") + "?q=nightly").text
    assert "stopped the experiment" in by_text
    nothing = client.get(reverse("audit:log") + "?q=zzz").text
    assert "Nothing matches these filters." in nothing
