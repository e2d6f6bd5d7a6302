"""Work that must happen, written down in the same transaction as the change that needs it."""

from django.db import models


class Message(models.Model):
    """One Celery task to send, by name. Deleted once the broker has taken it."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    what = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.task_name}{f' for {self.what}' if self.what else ''}"
