from django.contrib import admin

from apps.calls.models import Call
from config.admin import ReadOnlyAdmin


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    """Read-only: calls come from routers through ingestion, which validates them and asks
    the judge; an edit here would change results with no trace."""

    list_display = [
        "call_id",
        "agent",
        "variant",
        "caller",
        "started_at",
        "duration_seconds",
        "converted",
        "sentiment",
    ]
    list_filter = ["agent", "converted", "transferred", "completed"]
    search_fields = ["call_id", "caller"]
    raw_id_fields = ["experiment", "variant"]
    list_select_related = ["agent", "variant"]
