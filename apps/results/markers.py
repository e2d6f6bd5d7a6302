"""Markers on the charts by call date: where the split changed, a variant was paused or
resumed and the test stopped, and who did it, from Experiment.phases and the audit log."""

from datetime import UTC, datetime

from apps.audit.models import AuditEntry


def markers(experiment, variants) -> list[dict]:
    """Where the split changed, a variant was paused or resumed, and the test stopped, and
    who did it (from the audit line written with each change, in one query)."""
    names = {str(v.id): v.name for v in variants}
    who = _who_changed(experiment)
    out = []
    for before, after in zip(experiment.phases, experiment.phases[1:], strict=False):
        old, new = before["weights"], after["weights"]
        paused = [names.get(i, "?") for i, w in new.items() if w == 0 and old.get(i)]
        resumed = [names.get(i, "?") for i, w in new.items() if w and old.get(i) == 0]
        if paused:
            text = f"{' and '.join(paused)} paused"
        elif resumed:
            text = f"{' and '.join(resumed)} resumed"
        else:
            text = "Split changed to " + " / ".join(
                f"{w}" for i, w in sorted(new.items(), key=lambda kv: _order(kv[0], variants))
            )
        at = datetime.fromisoformat(after["started_at"])
        out.append(_marker(at, text + _by(who, at)))
    if experiment.stopped_at is not None:
        out.append(_marker(experiment.stopped_at, "Stopped" + _by(who, experiment.stopped_at)))
    return out


WEIGHT_ACTIONS = ("experiment.weights", "variant.pause", "variant.resume", "experiment.stop")


def _who_changed(experiment) -> list[tuple[datetime, str]]:
    entries = AuditEntry.objects.filter(
        object_type="experiment", object_id=str(experiment.pk), action__in=WEIGHT_ACTIONS
    ).values_list("created_at", "actor_label")
    return list(entries)


def _by(who: list[tuple[datetime, str]], at: datetime) -> str:
    """ " by olivia": whoever's change was written within a few seconds of `at` (the phase
    and its audit line are written in one transaction)."""
    near = [(abs((when - at).total_seconds()), label) for when, label in who]
    seconds, label = min(near, default=(None, ""))
    return f" by {label}" if seconds is not None and seconds < 5 and label else ""


def _marker(at: datetime, text: str) -> dict:
    return {"t": at.isoformat(), "when": f"{at.astimezone(UTC):%b %-d, %H:%M} UTC", "text": text}


def _order(variant_id: str, variants) -> int:
    return next((i for i, v in enumerate(variants) if str(v.id) == variant_id), 99)
