import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiKey
from apps.accounts.services import api_key_create, api_key_digest, api_key_revoke

pytestmark = pytest.mark.django_db


def test_only_the_digest_is_stored(agent):
    _, raw = api_key_create(name="EU router", agents=[agent])
    assert raw.startswith("sb_") and len(raw) > 40
    stored = ApiKey.objects.get()
    assert stored.digest == api_key_digest(raw) and raw not in str(stored.__dict__)
    assert list(stored.agents.all()) == [agent] and stored.scope == "router"


def test_create_refuses_an_empty_name_or_unknown_scope():
    with pytest.raises(ValidationError, match="Name the key"):
        api_key_create(name=" ")
    with pytest.raises(ValidationError, match="router” or “admin"):
        api_key_create(name="x", scope="root")
    assert not ApiKey.objects.exists()


def test_revoke_twice_is_refused():
    key, _ = api_key_create(name="x")
    api_key_revoke(key=key)
    with pytest.raises(ValidationError, match="revoked already"):
        api_key_revoke(key=key)


def test_command_prints_the_key_as_its_last_line(capsys, agent):
    call_command("create_api_key", "--name", "CI", "--scope", "admin", "--agent", agent.slug)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert ApiKey.objects.get(digest=api_key_digest(last_line)).scope == "admin"


def test_command_refuses_an_unknown_agent():
    with pytest.raises(CommandError, match="No agent with the slug ghost"):
        call_command("create_api_key", "--name", "CI", "--agent", "ghost")
    assert not ApiKey.objects.exists()


def test_admin_creates_a_key_and_shows_it_once(client, agent):
    from tests.factories import make_user

    boss = make_user("boss", role="manager")
    boss.is_staff = boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    response = client.post(
        "/admin/accounts/apikey/add/",
        {"name": "EU router", "scope": "router", "agents": [agent.pk]},
        follow=True,
    )
    text = response.content.decode()
    raw = text.split("it is not shown again: ")[1].split("<")[0].strip()
    key = ApiKey.objects.get(digest=api_key_digest(raw))
    assert key.name == "EU router" and list(key.agents.all()) == [agent]
    assert key.created_by == boss
