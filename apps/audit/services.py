from django.db.models import F

from apps.audit.models import AuditEntry, ChangeCounter

COUNTER_ID = 1
ROUTED = {"agent", "experiment", "apikey"}  # what the routing table is built from


def person(actor):
    """The User behind an actor, or None when the actor is a key or a job (a string)."""
    return None if actor is None or isinstance(actor, str) else actor


def audit_record(*, actor, action: str, obj, before=None, after=None, reason="") -> AuditEntry:
    """Record one change. Every service that changes state calls this inside its transaction.

    `actor` is a user, or a string naming who acted when there is no person (an API key, a job).
    The change counter moves in the same transaction when the change is one routers see
    (agents, experiments, keys), so the in-memory routing tables reload; votes do not.
    """
    if obj._meta.model_name in ROUTED:
        change_counter_bump()
    user = person(actor)
    label = (user.get_username() if user else actor) or "system"
    return AuditEntry.objects.create(
        actor=user,
        actor_label=label,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        before=before,
        after=after,
        reason=reason,
    )


def change_counter_bump() -> None:
    if not ChangeCounter.objects.filter(pk=COUNTER_ID).update(value=F("value") + 1):
        ChangeCounter.objects.get_or_create(pk=COUNTER_ID, defaults={"value": 1})


def change_counter_value() -> int:
    return ChangeCounter.objects.filter(pk=COUNTER_ID).values_list("value", flat=True).first() or 0
