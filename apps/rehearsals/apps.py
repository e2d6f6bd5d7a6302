from django.apps import AppConfig


class RehearsalsConfig(AppConfig):
    name = "apps.rehearsals"
    label = "rehearsals"
    verbose_name = "Rehearsals"

    def ready(self):
        # Registered in every process, so "rehearsals.run" queued by name runs in-process
        # when there is no Redis.
        from apps.rehearsals import tasks  # noqa: F401
