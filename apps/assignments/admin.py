from django.contrib import admin

from apps.assignments.models import Exposure
from config.admin import ReadOnlyAdmin


@admin.register(Exposure)
class ExposureAdmin(ReadOnlyAdmin):
    list_display = ["experiment", "variant", "phase", "count"]
    list_filter = ["experiment"]
