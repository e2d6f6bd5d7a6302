from django.contrib import admin

from apps.experiments.models import ApplyRequest, Experiment, Variant
from config.admin import ReadOnlyAdmin


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ["key", "name", "prompt_version", "weight", "is_control"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    """Read-only: every change to an experiment (lifecycle, split, goal, even its name, which
    routers are sent) goes through the services behind the pages and the API, which lock,
    audit and move the change counter routers watch."""

    list_display = ["name", "agent", "goal_kind", "status", "created_at"]
    list_filter = ["status", "goal_kind", "agent"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "agent",
        "status",
        "salt",
        "weights_version",
        "winner",
        "started_at",
        "stopped_at",
        "applied_at",
        "created_by",
    ]
    inlines = [VariantInline]


@admin.register(Variant)
class VariantAdmin(ReadOnlyAdmin):
    """Read-only: names and config overrides reach routers; edit them on the variant page."""

    list_display = ["experiment", "key", "name", "prompt_version", "weight", "is_control"]
    list_filter = ["is_control"]
    readonly_fields = ["experiment", "key", "prompt_version", "weight", "is_control"]


@admin.register(ApplyRequest)
class ApplyRequestAdmin(ReadOnlyAdmin):
    """Read-only: operators ask and managers decline or apply on the pages, which audit it."""

    list_display = ["experiment", "variant", "requested_by", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["note", "answer"]
