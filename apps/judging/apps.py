from django.apps import AppConfig


class JudgingConfig(AppConfig):
    name = "apps.judging"
    label = "judging"
    verbose_name = "Judging"

    def ready(self):
        # Register the tasks in every process, so work queued by name from lower layers
        # (ingestion queues "judging.judge_calls") runs in-process when there is no Redis.
        from apps.judging import tasks  # noqa: F401
