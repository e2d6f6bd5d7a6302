from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CallsConfig(AppConfig):
    name = "apps.calls"
    label = "calls"

    def ready(self):
        from apps.calls.timestamps import read_far_times

        connection_created.connect(read_far_times, dispatch_uid="calls.read_far_times")
