"""The agent's digest setting (off, hourly, daily): on the agent page and in the API, one
service, audited; a bad value is refused in plain words and changes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.agents.models import Agent
from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_an_operator_sets_the_digest_on_the_agent_page(client, operator, agent):
    client.force_login(operator)
    page = client.get(agent.get_absolute_url()).text
    assert 'name="digest"' in page and "Once a day means at 08:00 (UTC)" in page
    before = timezone.now()
    response = client.post(reverse("agents:digest", args=[agent.slug]), {"digest": "daily"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.digest == "daily"
    # The first digest comes at the next period, not at once.
    assert before <= agent.digest_sent_at <= timezone.now()
    entry = AuditEntry.objects.get(action="agent.digest")
    assert entry.before == {"digest": "off"} and entry.after == {"digest": "daily"}
    shown = client.get(agent.get_absolute_url()).text
    assert "sends a digest of its running experiments once a day" in shown


@pytest.mark.parametrize("value", ["weekly", "", "DAILY", "x" * 10_000])
def test_a_bad_value_is_refused_in_words_and_changes_nothing(client, operator, agent, value):
    client.force_login(operator)
    response = client.post(
        reverse("agents:digest", args=[agent.slug]), {"digest": value}, follow=True
    )
    assert "Choose how often the digest is sent: “off”, “hourly” or “daily”." in response.text
    assert "x" * 50 not in response.text  # the value is not echoed back
    agent.refresh_from_db()
    assert agent.digest == "off" and agent.digest_sent_at is None
    assert not AuditEntry.objects.filter(action="agent.digest").exists()


def test_a_nul_in_the_value_is_refused_before_the_view(client, operator, agent):
    client.force_login(operator)
    response = client.post(reverse("agents:digest", args=[agent.slug]), {"digest": "daily\x00"})
    assert response.status_code == 400 and "remove it" in response.text
    assert Agent.objects.get(pk=agent.pk).digest == "off"


def test_a_viewer_can_read_but_not_change_the_digest(client, viewer, agent):
    client.force_login(viewer)
    page = client.get(agent.get_absolute_url()).text
    assert "Off." in page and 'name="digest"' not in page
    response = client.post(reverse("agents:digest", args=[agent.slug]), {"digest": "hourly"})
    assert response.status_code == 403
    assert Agent.objects.get(pk=agent.pk).digest == "off"


def test_setting_the_same_value_again_records_nothing(client, operator, agent):
    client.force_login(operator)
    url = reverse("agents:digest", args=[agent.slug])
    client.post(url, {"digest": "hourly"})
    first = Agent.objects.get(pk=agent.pk).digest_sent_at
    client.post(url, {"digest": "hourly"})
    assert Agent.objects.get(pk=agent.pk).digest_sent_at == first
    assert AuditEntry.objects.filter(action="agent.digest").count() == 1


def test_the_api_reads_and_changes_the_digest(api, admin_key, agent):
    assert api.get(f"/api/v1/agents/{agent.slug}", key=admin_key).json()["digest"] == "off"
    url = f"/api/v1/agents/{agent.slug}"
    changed = api._call("patch", url, {"digest": "hourly"}, key=admin_key)
    assert changed.status_code == 200 and changed.json()["digest"] == "hourly"
    assert Agent.objects.get(pk=agent.pk).digest == "hourly"
    listed = api.get("/api/v1/agents", key=admin_key).json()
    assert [a["digest"] for a in listed] == ["hourly"]


@pytest.mark.parametrize("body", [{"digest": "weekly"}, {"digest": 1}, {}, {"digest": None}])
def test_the_api_refuses_a_bad_digest_and_changes_nothing(api, admin_key, agent, body):
    changed = api._call("patch", f"/api/v1/agents/{agent.slug}", body, key=admin_key)
    assert changed.status_code == 400 and "digest" in changed.text
    assert Agent.objects.get(pk=agent.pk).digest == "off"


def test_the_api_creates_an_agent_with_a_daily_digest(api, admin_key):
    created = api.post(
        "/api/v1/agents",
        {"name": "Collections", "prompt": "Be calm.", "digest": "daily"},
        key=admin_key,
    )
    assert created.status_code == 201 and created.json()["digest"] == "daily"
    agent = Agent.objects.get(slug="collections")
    assert agent.digest == "daily"
    assert timezone.now() - agent.digest_sent_at < timedelta(minutes=1)


def test_the_api_404s_an_unknown_agent(api, admin_key):
    response = api._call("patch", "/api/v1/agents/ghost", {"digest": "daily"}, key=admin_key)
    assert response.status_code == 404
