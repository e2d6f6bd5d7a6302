from django.db.models import Count, Prefetch, Q

from apps.experiments.models import Experiment, Status, Variant


def experiments_for_list(*, status: str = "", query: str = ""):
    experiments = Experiment.objects.select_related("agent").annotate(
        variant_count=Count("variants")
    )
    if status in Status.values:
        experiments = experiments.filter(status=status)
    if query:
        experiments = experiments.filter(
            Q(name__icontains=query)
            | Q(agent__name__icontains=query)
            | Q(description__icontains=query)
        )
    return experiments.order_by("-created_at", "-id")


def experiments_for_page():
    variants = Variant.objects.select_related("prompt_version").order_by("-is_control", "key")
    return Experiment.objects.select_related(
        "agent__current_version", "winner", "created_by"
    ).prefetch_related(Prefetch("variants", queryset=variants))


def latest_snapshot(experiment):
    """The frozen snapshot of a stopped experiment, else the newest one."""
    frozen = experiment.snapshots.filter(frozen=True).first()
    return frozen or experiment.snapshots.order_by("-computed_at", "-id").first()


def variant_verdict(experiment, key: str) -> dict | None:
    snapshot = latest_snapshot(experiment)
    if snapshot is None:
        return None
    row = next((v for v in snapshot.data.get("variants", []) if v["key"] == key), None)
    return row and row.get("verdict")
