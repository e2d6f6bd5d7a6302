"""Whether each ramping variant may widen: the results job's half of the ramp
(apps/experiments/services/ramp.py widens the split)."""

from django.db.models import Count

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_ramp_step


def guardrails_hold(*, experiment: Experiment, snapshot) -> dict[str, bool]:
    """Each variant's key -> True when it has at least the experiment's min calls per arm in
    the current phase of the split and every guardrail of it is shown safe in `snapshot`
    (its range excludes any change worse than the threshold). No guardrails: the calls
    alone decide."""
    calls = _phase_calls(experiment)
    result = snapshot.result
    holds = {}
    for variant in result.others:
        safe = all(_shown_safe(g, variant.key) for g in result.guardrails)
        enough = calls.get(variant.key, 0) >= experiment.min_calls_per_arm
        holds[variant.key] = safe and enough and result.guardrails_checked
    return holds


def _shown_safe(guardrail, key: str) -> bool:
    row = next((r for r in guardrail.variants if r.key == key), None)
    return row is not None and row.shown_safe


def _phase_calls(experiment: Experiment) -> dict[str, int]:
    """Counted calls per variant key since the current phase of the split began."""
    starts = experiment.phase_starts
    calls = Call.objects.filter(experiment=experiment, variant__isnull=False, after_stop=False)
    if starts:
        calls = calls.filter(started_at__gte=starts[-1])
    rows = calls.values_list("variant__key").annotate(n=Count("id"))
    return dict(rows)


def ramp_advance(*, experiment: Experiment, snapshot) -> dict | None:
    """Widen the variants whose guardrails hold one step (after the guardrail job ran)."""
    if not experiment.ramp:
        return None
    holds = guardrails_hold(experiment=experiment, snapshot=snapshot)
    return experiment_ramp_step(experiment=experiment, guardrails_hold=holds)
