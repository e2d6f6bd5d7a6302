"""What every experiment service shares: row locks and status checks."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.agents.services import agent_lock
from apps.experiments.models import Experiment


def _locked(experiment: Experiment) -> Experiment:
    """The experiment re-read under row locks, so concurrent writes queue up behind us.

    The agent's row is locked first, then the experiment's: the same order as every agent
    service (prompt update, rollback) and every other experiment of the agent, so a start
    and an apply on one agent run one after the other and the second sees the first's work.
    """
    agent_lock(experiment.agent_id)
    return (
        Experiment.objects.select_for_update(of=("self",))
        .select_related("agent", "agent__current_version")
        .get(pk=experiment.pk)
    )


def _require_status(experiment: Experiment, allowed: set[str], doing: str) -> None:
    if experiment.status not in allowed:
        raise ValidationError(
            f"“{experiment.name}” is {experiment.get_status_display().lower()}; "
            f"{doing} only while it is {' or '.join(sorted(allowed))}.",
            code="status",
        )


def phase_record(experiment: Experiment, weights: dict[int, int], at=None) -> dict:
    """A new phase of the split, starting now: its number (the experiment's weights version),
    when it started and each variant's percent by id. Results are analysed per phase."""
    return {
        "number": experiment.weights_version,
        "started_at": (at or timezone.now()).isoformat(),
        "weights": {str(variant_id): weight for variant_id, weight in weights.items()},
    }
