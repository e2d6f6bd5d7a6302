"""What the Django admin may do: mostly look. Changes go through the services (audited, seen by
routers); a model whose rows are written only by the pages, the API or jobs is read-only here."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
