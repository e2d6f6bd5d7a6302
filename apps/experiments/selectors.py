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
    """The variant's stored verdict, which the apply check reads. "winning" means every
    guardrail is shown to be no worse than its threshold; a snapshot stored before that rule
    (its guardrails carry no "unproven" list) cannot say so, so such a winner reads as
    guardrail_pending: applying it needs a written reason."""
    snapshot = latest_snapshot(experiment)
    if snapshot is None:
        return None
    row = next((v for v in snapshot.data.get("variants", []) if v["key"] == key), None)
    verdict = row and row.get("verdict")
    unchecked = any("unproven" not in g for g in snapshot.data.get("guardrails") or [])
    if verdict and verdict.get("code") == "winning" and unchecked:
        sentence = verdict.get("sentence", "").replace(" Safe to apply.", "")
        return {
            **verdict,
            "code": "guardrail_pending",
            "sentence": f"{sentence} Its guardrails were not yet checked to be no worse when "
            "these results were computed.",
        }
    return verdict
