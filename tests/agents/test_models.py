import hashlib

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from apps.agents.models import ImmutableError, PromptVersion

pytestmark = pytest.mark.django_db


def test_version_stores_sha256_of_its_body(agent):
    version = agent.current_version
    assert version.sha256 == hashlib.sha256(version.body.encode()).hexdigest()
    assert version.number == 1


def test_model_refuses_to_save_a_changed_version(agent):
    version = agent.current_version
    version.body = "Something else"
    with pytest.raises(ImmutableError):
        version.save()
    assert PromptVersion.objects.get(pk=version.pk).body != "Something else"


def test_model_refuses_to_delete_a_version(agent):
    with pytest.raises(ImmutableError):
        agent.current_version.delete()
    assert PromptVersion.objects.filter(pk=agent.current_version.pk).exists()


def test_database_refuses_a_queryset_update(agent):
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        PromptVersion.objects.filter(pk=agent.current_version.pk).update(body="sneaky")
    assert PromptVersion.objects.get(pk=agent.current_version.pk).body != "sneaky"


def test_database_refuses_a_queryset_delete(agent):
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        PromptVersion.objects.filter(pk=agent.current_version.pk)._raw_delete(connection.alias)
    assert PromptVersion.objects.filter(pk=agent.current_version.pk).exists()


def test_database_refuses_raw_sql_update_of_the_hash(agent):
    sql = "UPDATE agents_promptversion SET sha256 = 'x' WHERE id = %s"
    with (
        pytest.raises((IntegrityError, InternalError)) as error,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [agent.current_version.pk])
    assert "immutable" in str(error.value)
