from apps.audit.models import AuditEntry


def person(actor):
    """The User behind an actor, or None when the actor is a key or a job (a string)."""
    return None if actor is None or isinstance(actor, str) else actor


def audit_record(*, actor, action: str, obj, before=None, after=None, reason="") -> AuditEntry:
    """Record one change. Every service that changes state calls this inside its transaction.

    `actor` is a user, or a string naming who acted when there is no person (an API key, a job).
    """
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
