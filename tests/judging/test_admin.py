import pytest
from django.contrib import admin
from django.urls import reverse

from apps.judging.models import Criterion, HumanVerdict, Judgement
from apps.judging.services import criterion_current, human_verdict_set
from tests.factories import make_user
from tests.judging.helpers import add_call, custom_experiment

pytestmark = pytest.mark.django_db


def test_judging_pages_render_and_judgements_are_read_only(client, agent, operator, manager):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    criterion = criterion_current(experiment=experiment)
    Judgement.objects.create(
        call=call, criterion=criterion, model="m", prompt_version=1, verdict="pass", cache_key="0"
    )
    human_verdict_set(call=call, reviewer=manager, verdict="pass")
    boss = make_user("boss", role="manager")
    boss.is_staff = boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    for model in (Criterion, Judgement, HumanVerdict):
        name = model._meta.model_name
        assert client.get(reverse(f"admin:judging_{name}_changelist")).status_code == 200
        page = reverse(f"admin:judging_{name}_change", args=[model.objects.get().pk])
        assert client.get(page).status_code == 200
    request = client.get("/").wsgi_request
    request.user = boss
    assert not admin.site._registry[Judgement].has_change_permission(request)
    assert not admin.site._registry[Criterion].has_add_permission(request)
