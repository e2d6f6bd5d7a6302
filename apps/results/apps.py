from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "apps.results"
    label = "results"

    def ready(self):
        # Register the tasks in every process, so work queued by name from lower layers
        # (experiment_stop queues "results.freeze") runs in-process when there is no Redis.
        from apps.results import tasks  # noqa: F401
