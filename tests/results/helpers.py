import random

from django.utils import timezone

from apps.calls.models import Call


def add_calls(
    experiment,
    rates,
    *,
    per_variant=400,
    callers_per_variant=None,
    seed=1,
    after_stop=False,
    prefix="c",
    **fixed,
):
    """Bulk-create calls: `rates` maps variant key -> conversion probability."""
    rng = random.Random(seed)
    variants = {v.key: v for v in experiment.variants.all()}
    calls = []
    for key, rate in rates.items():
        callers = callers_per_variant or per_variant
        for i in range(per_variant):
            calls.append(
                Call(
                    agent=experiment.agent,
                    call_id=f"{prefix}-{key}-{i}",
                    experiment=experiment,
                    variant=variants[key],
                    caller=f"{key}-caller-{i % callers}",
                    started_at=timezone.now(),
                    converted=rng.random() < rate,
                    duration_seconds=rng.uniform(30, 300),
                    sentiment=rng.uniform(-1, 1),
                    transferred=fixed.get("transferred", {}).get(key, 0.05) > rng.random(),
                    completed=True,
                    after_stop=after_stop,
                )
            )
    Call.objects.bulk_create(calls)
    return calls
