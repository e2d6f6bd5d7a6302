from apps.calls.models import Call
from tests.factories import CallFactory


def add_calls(experiment, key, count, *, prefix=None, start=0, **fields) -> list[Call]:
    """`count` calls of variant `key`, with call ids "<prefix>-<i>" (prefix defaults to key)."""
    variant = experiment.variants.get(key=key)
    calls = [
        CallFactory.build(
            agent=experiment.agent,
            experiment=experiment,
            variant=variant,
            call_id=f"{prefix or key}-{i}",
            **fields,
        )
        for i in range(start, start + count)
    ]
    return Call.objects.bulk_create(calls)


def transcript(*lines: str) -> list[dict]:
    """Turns alternating agent, caller, agent..."""
    speakers = ["agent", "caller"]
    return [
        {"speaker": speakers[i % 2], "text": text, "start_seconds": float(i * 5)}
        for i, text in enumerate(lines)
    ]
