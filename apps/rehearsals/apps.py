from django.apps import AppConfig


class RehearsalsConfig(AppConfig):
    name = "apps.rehearsals"
    label = "rehearsals"
    verbose_name = "Rehearsals"

    def ready(self):
        # Registered in every process, so "rehearsals.run" queued by name runs in-process
        # when there is no Redis.
        # The start gate: experiments calls it without importing rehearsals.
        from apps.experiments.services.lifecycle import start_check_register
        from apps.rehearsals import tasks  # noqa: F401
        from apps.rehearsals.gate import gate_check

        start_check_register(gate_check)
