from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_key_revoke, api_key_secret
from apps.audit.services import audit_record

admin.site.register(User, UserAdmin)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made here or by `manage.py create_api_key`; the key is shown once."""

    list_display = ["name", "prefix", "scope", "created_at", "revoked_at"]
    list_filter = ["scope"]
    filter_horizontal = ["agents"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scope", "agents"]
        return ["name", "prefix", "scope", "agents", "created_by", "created_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["prefix", "scope", "created_by", "created_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        raw, obj.prefix, obj.digest = api_key_secret()
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user, action="api_key.create", obj=obj, after={"scope": obj.scope}
        )
        messages.warning(request, f"Copy the key now; it is not shown again: {raw}")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps naming the key

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            try:
                api_key_revoke(key=key, user=request.user)
            except ValidationError as error:
                messages.error(request, f"{key}: {' '.join(error.messages)}")
