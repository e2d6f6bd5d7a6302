from django.contrib import admin

from apps.experiments.models import ResultSnapshot
from config.admin import ReadOnlyAdmin


@admin.register(ResultSnapshot)
class ResultSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["experiment", "computed_at", "frozen", "calls", "verdict_code"]
    list_filter = ["frozen", "verdict_code"]
    readonly_fields = [f.name for f in ResultSnapshot._meta.fields]
