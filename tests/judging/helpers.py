"""Experiments with a custom goal, and calls with transcripts, for the judge's tests."""

from apps.calls.models import Call
from tests.factories import CallFactory, make_experiment

CRITERION = "The agent learns the caller's budget and timeline without being pushy."
TRANSCRIPT = [
    {"speaker": "agent", "text": "Harbor Homes, how can I help?", "start_seconds": 0.0},
    {"speaker": "caller", "text": "I'm looking for a flat near the harbour.", "start_seconds": 2.5},
    {"speaker": "agent", "text": "Lovely. What budget do you have in mind?", "start_seconds": 5.0},
    {"speaker": "caller", "text": "About 300k, moving in spring.", "start_seconds": 8.0},
]
JUDGE_MODEL = "judge-1"
JUDGE_KEY = "sk-test-judge"


def point_judge_at(settings, server, *, model=JUDGE_MODEL, key=JUDGE_KEY, timeout=5.0):
    settings.JUDGE_BASE_URL = server.url
    settings.JUDGE_MODEL = model
    settings.JUDGE_API_KEY = key
    settings.JUDGE_TIMEOUT_SECONDS = timeout


def custom_experiment(*, agent, user, criteria=CRITERION, **kwargs):
    return make_experiment(
        agent=agent, user=user, goal_kind="custom", goal_criteria=criteria, **kwargs
    )


def add_call(experiment, key="control", transcript=None, **fields) -> Call:
    return CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.variants.get(key=key),
        transcript=TRANSCRIPT if transcript is None else transcript,
        **fields,
    )


def said(text: str) -> list[dict]:
    """A one-line transcript, to make calls whose transcripts differ."""
    return [{"speaker": "caller", "text": text, "start_seconds": 0.0}]
