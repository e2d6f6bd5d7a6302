"""API keys: create, revoke, and the digest used to look one up."""

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import ApiKey
from apps.audit.services import audit_record, person

KEY_PREFIX = "sb_"


def api_key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_key_secret() -> tuple[str, str, str]:
    """A new key: (raw, prefix, digest)."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:10], api_key_digest(raw)


@transaction.atomic
def api_key_create(*, name: str, scope: str = ApiKey.ROUTER, agents=(), user=None):
    """Create a key; returns (key, raw). The raw key is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the key after who uses it, e.g. “EU router”."})
    if scope not in (ApiKey.ROUTER, ApiKey.ADMIN):
        raise ValidationError({"scope": "A key's scope is “router” or “admin”."})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name[:100],
        prefix=raw[:10],
        digest=api_key_digest(raw),
        scope=scope,
        created_by=person(user),
    )
    key.agents.set(agents)
    audit_record(
        actor=user,
        action="api_key.create",
        obj=key,
        after={"scope": scope, "agents": sorted(a.slug for a in agents)},
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, user=None) -> ApiKey:
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise ValidationError("This key is revoked already.")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=user, action="api_key.revoke", obj=key)
    return key


@transaction.atomic
def api_key_update(*, key: ApiKey, name: str, agents, user=None) -> ApiKey:
    """Rename a key or change which agents it may use. Routers see the new limit on their next
    refresh: the audit entry moves the change counter they watch."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the key after who uses it, e.g. “EU router”."})
    before = {"name": key.name, "agents": sorted(key.agents.values_list("slug", flat=True))}
    after = {"name": name[:100], "agents": sorted(a.slug for a in agents)}
    if before == after:
        return key
    key.name = after["name"]
    key.save(update_fields=["name"])
    key.agents.set(agents)
    audit_record(actor=user, action="api_key.update", obj=key, before=before, after=after)
    return key
