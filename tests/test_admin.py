import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import CallFactory, make_user

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
