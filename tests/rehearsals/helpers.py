"""Agents, scenarios and evaluations for the rehearsal tests, made through the services."""

from apps.agents.services import prompt_version_create
from apps.rehearsals.services import evaluation_start, scenario_create
from tests.factories import make_agent

GOOD = "You are Smile Dental's front desk. Always ask for the date before booking."
ALSO_GOOD = GOOD + " Be warm."
FORGETFUL = "You are Smile Dental's front desk. Book callers quickly."
DATES = ("March 3", "April 14", "May 25")


def checks(date: str) -> list[dict]:
    return [
        {"kind": "fact", "value": date},
        {"kind": "judge", "criterion": "The agent asked which date the caller wants."},
        {"kind": "forbidden", "text": "next free slot"},
    ]


def dental_agent(user=None, dates=DATES):
    agent = make_agent(prompt=GOOD, user=user)
    for date in dates:
        scenario_create(
            agent=agent,
            data={
                "name": f"Booking on {date}",
                "persona": "A patient who wants a cleaning.",
                "goal": "Book a cleaning.",
                "facts": {"date": date},
                "checks": checks(date),
            },
            user=user,
        )
    return agent


def evaluate(agent, body, capture, user=None, **kwargs):
    """Start (and, tasks being eager, run) an evaluation of `body` against the current prompt."""
    variant = prompt_version_create(agent=agent, body=body, user=user)
    with capture(execute=True):
        evaluation = evaluation_start(
            agent=agent,
            variant_prompt=variant,
            variant_config=dict(agent.config),
            control_prompt=agent.current_version,
            control_config=dict(agent.config),
            user=user,
            **kwargs,
        )
    evaluation.refresh_from_db()
    return evaluation
