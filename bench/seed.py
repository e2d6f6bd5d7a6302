"""Seed the benchmark database through the product's own services: one agent with a running
experiment (control and b, 50/50). Prints what the benchmarks need as one JSON line."""

import json
import os
import sys

PROMPT = """You are the front desk of Harbor Dental. Greet {{caller_name}} by name when you know \
it, find out why they are calling, and book, move or cancel appointments. Offer the earliest free \
slot first. Confirm the date and time back to the caller before you end the call. Be brief and \
polite; never give medical advice, and hand the call to a person when the caller asks for one."""


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from apps.agents.services import agent_create
    from apps.experiments.services import (
        experiment_create,
        experiment_start,
        variant_fork,
        weights_set,
    )

    agent = agent_create(
        name="Bench front desk",
        slug="bench-front-desk",
        prompt=PROMPT,
        config={"model": "gpt-4o-mini", "voice": "alloy", "temperature": 0.4},
    )
    experiment = experiment_create(
        agent=agent,
        name="Warmer greeting",
        goal_kind="conversion",
        description="Thanking callers should make more of them book.",
    )
    variant_fork(experiment=experiment, body=PROMPT + "\nThank the caller warmly for calling.")
    weights_set(experiment=experiment, weights={"control": 50, "b": 50})
    experiment = experiment_start(experiment=experiment)
    variants = {v.key: v.id for v in experiment.variants.all()}
    json.dump({"agent": agent.slug, "experiment": experiment.id, "variants": variants}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
