"""What every experiment service shares: row locks and status checks."""

from django.core.exceptions import ValidationError

from apps.experiments.models import Experiment


def _locked(experiment: Experiment) -> Experiment:
    """The experiment re-read under a row lock, so concurrent writes queue up behind us."""
    return (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=experiment.pk)
    )


def _require_status(experiment: Experiment, allowed: set[str], doing: str) -> None:
    if experiment.status not in allowed:
        raise ValidationError(
            f"“{experiment.name}” is {experiment.get_status_display().lower()}; "
            f"{doing} only while it is {' or '.join(sorted(allowed))}.",
            code="status",
        )
