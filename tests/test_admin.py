import json

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.accounts.models import ApiKey
from apps.accounts.services import api_key_create
from apps.agents.models import Agent, PromptVersion
from apps.agents.services import agent_prompt_update
from apps.assignments import table
from apps.audit.models import AuditEntry
from apps.calls.models import Call
from apps.experiments.models import Experiment, Variant
from apps.experiments.services import experiment_start
from apps.judging.models import HumanVerdict
from tests.factories import CallFactory, make_agent, make_user

pytestmark = pytest.mark.django_db


def test_every_model_is_in_the_admin():
    from django.apps import apps

    ours = [m for m in apps.get_models() if m.__module__.startswith("apps.")]
    assert ours and all(admin.site.is_registered(model) for model in ours)


def test_admin_lists_and_pages_render_for_a_superuser(client, experiment, agent):
    CallFactory(agent=agent)
    boss = make_user("boss", role="manager")
    boss.is_staff = boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    for model in admin.site._registry:
        if not model.__module__.startswith("apps."):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        listing = reverse("admin:{}_{}_changelist".format(*info))
        assert client.get(listing).status_code == 200, listing
        obj = model.objects.first()
        if obj is not None:
            change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            assert client.get(change).status_code == 200, change


# Admin edits go through the services: audited, and routers see them on the next refresh.


@pytest.fixture
def superuser(client):
    boss = make_user("root", role="manager")
    boss.is_staff = boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    return boss


def test_limiting_a_key_to_agents_in_the_admin_is_audited_and_reaches_routers(
    client, superuser, agent, operator
):
    other = make_agent(user=operator)
    key, raw = api_key_create(name="EU router")
    table.refresh()
    page = reverse("admin:accounts_apikey_change", args=[key.pk])

    response = client.post(page, {"name": "EU router", "agents": [other.pk]})

    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(action="api_key.update", object_id=str(key.pk))
    assert entry.actor == superuser and entry.after["agents"] == [other.slug]
    assert table.refresh() is True
    assert not table.current().key_for(f"Bearer {raw}").allows(agent.pk)
    assert table.current().key_for(f"Bearer {raw}").allows(other.pk)


def test_a_key_made_in_the_admin_is_audited_with_its_agents_and_served(client, superuser, agent):
    table.refresh()
    response = client.post(
        reverse("admin:accounts_apikey_add"),
        {"name": "Night router", "scope": "router", "agents": [agent.pk]},
    )

    assert response.status_code == 302, response.content
    key = ApiKey.objects.get(name="Night router")
    assert list(key.agents.all()) == [agent]
    entry = AuditEntry.objects.get(action="api_key.create", object_id=str(key.pk))
    assert entry.actor == superuser and entry.after["agents"] == [agent.slug]
    assert table.refresh() is True
    assert key.digest in table.current().keys


def test_revoking_a_key_in_the_admin_is_audited_and_reaches_routers(client, superuser):
    key, raw = api_key_create(name="Old router")
    table.refresh()

    response = client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )

    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="api_key.revoke", object_id=str(key.pk)).exists()
    assert table.refresh() is True and table.current().key_for(f"Bearer {raw}") is None


def test_changing_an_agents_current_version_in_the_admin_is_a_rollback(
    client, superuser, agent, operator
):
    first = agent.current_version
    agent_prompt_update(agent=agent, body="Version two", user=operator)
    table.refresh()

    response = client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]), {"current_version": first.pk}
    )

    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(action="prompt.rollback", object_id=str(agent.pk))
    assert entry.actor == superuser and entry.after == {"version": first.number}
    assert table.refresh() is True
    assert json.loads(table.current().routes[agent.slug].default_answer)["prompt"]["version"] == 1


def test_the_admin_refuses_a_current_version_while_an_experiment_runs(
    client, superuser, experiment, operator
):
    agent = experiment.agent
    experiment_start(experiment=experiment, user=operator)
    other = a_version_not_current(agent, operator)

    response = client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]), {"current_version": other.pk}
    )

    assert response.status_code == 200 and "Stop it before changing" in response.text
    agent.refresh_from_db()
    assert agent.current_version_id != other.pk
    assert not AuditEntry.objects.filter(action="prompt.rollback").exists()


def test_the_admin_refuses_another_agents_prompt_version(client, superuser, agent, operator):
    stranger = make_agent(user=operator)

    response = client.post(
        reverse("admin:agents_agent_change", args=[agent.pk]),
        {"current_version": stranger.current_version.pk},
    )

    assert response.status_code == 200 and "this agent&#x27;s own prompt versions" in response.text
    agent.refresh_from_db()
    assert agent.current_version.agent_id == agent.pk


def a_version_not_current(agent, user):
    """A saved version of the agent's prompt that is not current (a variant's, say)."""
    from apps.agents.services import prompt_version_create

    return prompt_version_create(agent=agent, body="An older idea", user=user)


def test_what_routers_are_sent_cannot_be_changed_behind_the_services(rf, superuser):
    request = rf.get("/")
    request.user = superuser
    for model in (Experiment, Variant, Call, HumanVerdict, PromptVersion):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
    agent_admin = admin.site._registry[Agent]
    assert set(agent_admin.get_readonly_fields(request)) >= {"slug", "config", "name"}
    assert not agent_admin.has_add_permission(request)
    assert not agent_admin.has_delete_permission(request)


def test_changing_a_persons_role_in_the_admin_is_audited(client, superuser, viewer):
    """Who may apply winners or read blind votes must be traceable like any other change."""
    from django.contrib.auth.models import Group

    managers = Group.objects.get(name="manager")
    page = reverse("admin:accounts_user_change", args=[viewer.pk])
    form = {
        "username": viewer.username,
        "is_active": "on",
        "is_staff": "on",
        "groups": [managers.pk],
        "date_joined_0": viewer.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": viewer.date_joined.strftime("%H:%M:%S"),
    }

    response = client.post(page, form)

    assert response.status_code == 302, response.content
    entry = AuditEntry.objects.get(action="user.change", object_id=str(viewer.pk))
    assert entry.actor == superuser
    assert entry.before["role"] == "viewer" and entry.before["staff"] is False
    assert entry.after["role"] == "manager" and entry.after["staff"] is True
    assert entry.after["groups"] == ["manager"]


def test_role_permissions_cannot_be_edited_and_people_are_deactivated_not_deleted(
    client, superuser, viewer
):
    """Giving the viewer role a manager's permissions, or deleting a person, left no trace."""
    from django.contrib.auth.models import Group

    viewers = Group.objects.get(name="viewer")
    before = set(viewers.permissions.values_list("pk", flat=True))
    page = reverse("admin:auth_group_change", args=[viewers.pk])
    client.post(page, {"name": "viewer", "permissions": list(range(1, 60))})
    assert set(viewers.permissions.values_list("pk", flat=True)) == before
    delete = reverse("admin:accounts_user_delete", args=[viewer.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert type(viewer).objects.filter(pk=viewer.pk).exists()


def test_setting_a_password_in_the_admin_is_audited(client, superuser, viewer):
    page = reverse("admin:auth_user_password_change", args=[viewer.pk])
    new = "a-new-long-passphrase-42"
    response = client.post(page, {"password1": new, "password2": new, "usable_password": "true"})
    assert response.status_code == 302, response.content
    viewer.refresh_from_db()
    assert viewer.check_password(new)
    entry = AuditEntry.objects.get(action="user.password", object_id=str(viewer.pk))
    assert entry.actor == superuser


@pytest.mark.parametrize(
    "query",
    ["started_at__gte=2026-11-28 10:00:00%2B23:59", "started_at__year=99999"],
)
def test_an_admin_filter_the_database_cannot_use_is_a_message_not_a_500(
    client, superuser, agent, query
):
    CallFactory(agent=agent)
    response = client.get(f"{reverse('admin:calls_call_changelist')}?{query}", follow=True)
    assert response.status_code == 200
    assert "That filter cannot be used" in response.text
