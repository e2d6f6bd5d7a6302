from django.contrib import admin

from apps.outbox.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "task_name", "what", "created_at", "attempts", "last_error"]
    readonly_fields = [*list_display, "args"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
