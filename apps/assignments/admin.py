from django.contrib import admin

from apps.assignments.models import Exposure


@admin.register(Exposure)
class ExposureAdmin(admin.ModelAdmin):
    list_display = ["experiment", "variant", "phase", "count"]
    list_filter = ["experiment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
