from django.db.models import Count, Prefetch

from apps.experiments.models import Experiment, Status, Variant


def experiments_for_list(*, status: str = ""):
    experiments = Experiment.objects.select_related("agent").annotate(
        variant_count=Count("variants")
    )
    if status in Status.values:
        experiments = experiments.filter(status=status)
    return experiments.order_by("-created_at", "-id")


def experiments_for_page():
    variants = Variant.objects.select_related("prompt_version").order_by("-is_control", "key")
    return Experiment.objects.select_related("agent", "winner", "created_by").prefetch_related(
        Prefetch("variants", queryset=variants)
    )
