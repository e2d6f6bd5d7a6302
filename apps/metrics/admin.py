from django.contrib import admin

from apps.metrics.models import CustomMetric
from config.admin import ReadOnlyAdmin


@admin.register(CustomMetric)
class CustomMetricAdmin(ReadOnlyAdmin):
    """Read-only: a metric is added and deleted on the agent's metrics page or through the
    API, whose services check the field name (it becomes SQL), audit the change and refuse to
    delete a metric an experiment uses."""

    list_display = ["agent", "key", "name", "field", "type", "aggregate", "direction"]
    list_filter = ["type", "aggregate"]
    search_fields = ["key", "name", "field"]
