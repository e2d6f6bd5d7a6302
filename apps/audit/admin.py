from django.contrib import admin

from apps.audit.models import AuditEntry, ChangeCounter
from config.admin import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_label", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "actor_label", "reason"]


@admin.register(ChangeCounter)
class ChangeCounterAdmin(ReadOnlyAdmin):
    """Read-only: moves with every audited change; routers reload their table when it does."""

    list_display = ["id", "value"]
