import pytest

from apps.audit.models import AuditEntry
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_record_names_a_person(agent, operator):
    entry = audit_record(
        actor=operator,
        action="prompt.update",
        obj=agent,
        before={"version": 1},
        after={"version": 2},
    )
    assert (entry.actor, entry.actor_label) == (operator, "olivia")
    assert (entry.object_type, entry.object_id) == ("agent", str(agent.pk))
    assert entry.changes == [("version", 1, 2)]
    assert entry.action_words == "saved a new current prompt"


def test_record_names_a_key_or_job_without_a_person(agent):
    entry = audit_record(actor="key:router-eu", action="agent.create", obj=agent)
    assert entry.actor is None and entry.actor_label == "key:router-eu"


def test_entries_list_newest_first(agent):
    audit_record(actor=None, action="a", obj=agent)
    audit_record(actor=None, action="b", obj=agent)
    assert AuditEntry.objects.first().action == "b"
    assert AuditEntry.objects.first().actor_label == "system"
