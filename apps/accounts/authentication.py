"""API keys on requests: `Authorization: Bearer <key>`, checked by SHA-256 digest."""

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission

from apps.accounts.models import ApiKey
from apps.accounts.services import api_key_digest

NO_KEY = "Send an API key as 'Authorization: Bearer <key>'."
BAD_KEY = "This API key is not valid: it is unknown or was revoked."


@dataclass(frozen=True, slots=True)
class Key:
    """What a request's key may do. Built from the database or from the routing table."""

    name: str
    scope: str
    agent_ids: frozenset[int] = frozenset()

    def allows(self, agent_id: int) -> bool:
        return not self.agent_ids or agent_id in self.agent_ids

    @property
    def label(self) -> str:
        return f"key:{self.name}"


def key_of(api_key: ApiKey) -> Key:
    return Key(api_key.name, api_key.scope, frozenset(a.id for a in api_key.agents.all()))


def active_keys():
    return ApiKey.objects.filter(revoked_at__isnull=True).prefetch_related("agents")


def bearer_digest(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return api_key_digest(authorization[7:].strip())


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        digest = bearer_digest(request.headers.get("Authorization"))
        if digest is None:
            return None
        row = active_keys().filter(digest=digest).first()
        if row is None:
            raise AuthenticationFailed(BAD_KEY)
        return (None, key_of(row))

    def authenticate_header(self, request):
        return "Bearer"


class RouterKey(BasePermission):
    """Any valid key: routers may assign and report calls."""

    message = NO_KEY

    def has_permission(self, request, view):
        return isinstance(request.auth, Key)


class AdminKey(BasePermission):
    """Only admin keys may manage agents and experiments."""

    def has_permission(self, request, view):
        if not isinstance(request.auth, Key):
            return False
        if request.auth.scope != ApiKey.ADMIN:
            raise PermissionDenied("This key is a router key; managing needs an admin key.")
        return True


def in_scope(key: Key, queryset, agent_field: str = "pk"):
    """Only the rows of the agents a key may use. Whatever lies outside a key's agents is
    answered exactly as if it did not exist (404), so a key never learns other agents' slugs."""
    if not key.agent_ids:
        return queryset
    return queryset.filter(**{f"{agent_field}__in": key.agent_ids})


def require_unscoped(key: Key) -> None:
    """Some acts concern every agent (creating one): a key limited to some agents may not."""
    if key.agent_ids:
        raise PermissionDenied(
            "This key is limited to some agents; creating agents needs an admin key for all."
        )
