from django.contrib import admin

from apps.experiments.models import ResultSnapshot


@admin.register(ResultSnapshot)
class ResultSnapshotAdmin(admin.ModelAdmin):
    list_display = ["experiment", "computed_at", "frozen", "calls", "verdict_code"]
    list_filter = ["frozen", "verdict_code"]
    readonly_fields = [f.name for f in ResultSnapshot._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
