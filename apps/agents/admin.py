from django.contrib import admin

from apps.agents.models import Agent, PromptVersion


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "current_version", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["current_version"]


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are made by the pages and the API, never edited."""

    list_display = ["agent", "number", "sha256", "author", "created_at", "note"]
    list_filter = ["agent"]
    readonly_fields = [f.name for f in PromptVersion._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
