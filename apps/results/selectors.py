from apps.experiments.models import ResultSnapshot


def latest_snapshot(experiment) -> ResultSnapshot | None:
    """The frozen snapshot of a stopped experiment, else the newest one."""
    frozen = experiment.snapshots.filter(frozen=True).first()
    return frozen or experiment.snapshots.order_by("-computed_at", "-id").first()
