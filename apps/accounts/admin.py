from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from apps.accounts.models import ApiKey, User
from apps.accounts.services import api_key_create, api_key_revoke, api_key_update
from apps.audit.services import audit_record
from config.admin import ReadOnlyAdmin


def _access(user: User) -> dict:
    """What a person may do, as the audit log records it."""
    return {
        "role": user.role,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "staff": user.is_staff,
        "superuser": user.is_superuser,
        "active": user.is_active,
    }


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    """People and roles stay Django's admin pages, but every change is in the audit log:
    who may apply winners or read blind votes is a change people must be able to trace."""

    def save_model(self, request, obj, form, change):
        obj._access_before = _access(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the audit log keeps naming the person

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was saved
            audit_record(actor=request.user, action="user.password", obj=User.objects.get(pk=id))
        return response

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # groups are saved here
        user = form.instance
        changed = sorted(f for f in form.changed_data if f != "password")
        audit_record(
            actor=request.user,
            action="user.change" if change else "user.create",
            obj=user,
            before=getattr(user, "_access_before", None),
            after={**_access(user), "fields": changed},
        )


# Roles are groups whose permissions the code defines (apps/accounts): editing them here would
# change what every person of a role may do, unaudited.
admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(ReadOnlyAdmin):
    list_display = ["name"]
    filter_horizontal = ["permissions"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made here or by `manage.py create_api_key`; the key is shown once.

    Every save goes through the key services, so it is audited and routers see it on their
    next refresh (the audit entry moves the change counter).
    """

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
        data = form.cleaned_data
        if change:
            api_key_update(key=obj, name=data["name"], agents=data["agents"], user=request.user)
            return
        key, raw = api_key_create(
            name=data["name"], scope=data["scope"], agents=data["agents"], user=request.user
        )
        obj.pk, obj.prefix, obj.digest, obj.created_at = (
            key.pk,
            key.prefix,
            key.digest,
            key.created_at,
        )
        messages.warning(request, f"Copy the key now; it is not shown again: {raw}")

    def save_related(self, request, form, formsets, change):
        pass  # the services above set the agents, inside their audited transaction

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps naming the key

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            try:
                api_key_revoke(key=key, user=request.user)
            except ValidationError as error:
                messages.error(request, f"{key}: {' '.join(error.messages)}")
