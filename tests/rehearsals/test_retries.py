"""Rate limits, 5xx and timeouts are tried again within bounds; the judge's tokens are paid for.

Each run is one scenario played once per arm, one conversation at a time, against the
scripted server: undisturbed, a conversation is three agent turns, three caller turns and
one judge verdict (the control's first, then the variant's).
"""

import pytest

from apps.judging.client import JudgeUnavailable
from apps.rehearsals import simulate
from apps.rehearsals.simulate import BACKOFF_CAP_SECONDS, Endpoint, backoff, retrying
from tests.rehearsals.helpers import ALSO_GOOD, dental_agent, evaluate
from tests.rehearsals.sim_server import HANG, USAGE, Reply

pytestmark = pytest.mark.django_db(transaction=False)

TURNS = 3  # agent requests (and caller requests) in one undisturbed conversation


def run(sim, operator, capture, settings, **kwargs):
    settings.SIMULATION_CONCURRENCY = 1
    agent = dental_agent(operator, dates=("March 3",))
    return evaluate(agent, ALSO_GOOD, capture, operator, plays=1, **kwargs)


def errors(evaluation) -> list[str]:
    return list(evaluation.conversations.exclude(error="").values_list("error", flat=True))


def played_fine(evaluation) -> bool:
    overall = set(evaluation.conversations.values_list("overall", flat=True))
    return evaluation.status == "done" and overall == {"pass"} and not errors(evaluation)


def test_a_rate_limited_turn_waits_as_long_as_retry_after_asks_then_plays(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("agent", Reply(429, {"Retry-After": "2"}))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert played_fine(evaluation) and evaluation.conversations.count() == 2
    assert sim.count("agent") == 2 * TURNS + 1
    assert len(slept) == 1 and 2.0 <= slept[0] <= 2.0 * 1.25  # never sooner than asked


def test_retry_after_ms_is_read_too(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("caller", Reply(429, {"retry-after-ms": "1500"}))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert played_fine(evaluation) and sim.count("caller") == 2 * TURNS + 1
    assert len(slept) == 1 and 1.5 <= slept[0] <= 1.5 * 1.25


def test_two_503s_are_tried_again_with_a_doubling_wait_and_the_third_try_plays(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("agent", Reply(503), Reply(503))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert played_fine(evaluation)
    assert sim.count("agent") == 2 * TURNS + 2
    assert len(slept) == 2
    assert 0.5 <= slept[0] <= 0.625 and 1.0 <= slept[1] <= 1.25


def test_a_503_on_every_try_is_that_conversations_error_after_three_tries(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("agent", Reply(503), Reply(503), Reply(503))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert evaluation.status == "done"  # the variant still played
    [error] = errors(evaluation)
    assert error.startswith("The simulation stopped: 503") and "Scripted 503." in error
    assert sim.count("agent") == 3 + TURNS  # three tries of the control's first turn
    assert len(slept) == 2


def test_the_number_of_tries_is_the_setting(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_RETRIES = 1
    sim.script("agent", Reply(503))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert len(errors(evaluation)) == 1 and sim.count("agent") == 1 + TURNS and slept == []


def test_a_retry_after_longer_than_the_budget_gives_up_at_once_without_waiting(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("agent", Reply(429, {"Retry-After": "3600"}))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert slept == []
    assert errors(evaluation) == ["The simulation stopped: rate limited (retry after 3600.0 s)"]
    assert sim.count("agent") == 1 + TURNS


def test_no_retry_starts_past_the_budget(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_RETRY_SECONDS = 0.2  # less than the first wait (0.5 s or more)
    sim.script("agent", Reply(503))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert len(errors(evaluation)) == 1 and sim.count("agent") == 1 + TURNS and slept == []


def test_a_timeout_counts_as_a_try(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_TIMEOUT_SECONDS = 0.3
    sim.script("agent", HANG)
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert played_fine(evaluation) and sim.count("agent") == 2 * TURNS + 1
    assert len(slept) == 1


def test_a_timeout_on_every_try_is_that_conversations_error(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_TIMEOUT_SECONDS = 0.3
    sim.script("agent", HANG, HANG, HANG)
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert errors(evaluation) == ["The simulation stopped: no answer within 0.3 s"]
    assert sim.count("agent") == 3 + TURNS and len(slept) == 2


def test_a_refused_key_is_not_tried_again(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("agent", Reply(401))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert evaluation.status == "failed" and "Scripted 401." in evaluation.error
    assert sim.count("agent") == 1 and slept == []


def test_a_rate_limited_judge_is_asked_again(
    sim, slept, operator, settings, django_capture_on_commit_callbacks
):
    sim.script("judge", Reply(429, {"Retry-After": "1"}), Reply(502))
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings)
    assert played_fine(evaluation) and sim.count("judge") == 2 + 2
    assert len(slept) == 2 and 1.0 <= slept[0] <= 1.25 and 1.0 <= slept[1] <= 1.25


def test_a_run_costs_the_judges_tokens_as_well_as_the_simulations(
    sim, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_USD_PER_MILLION_INPUT_TOKENS = 10_000.0  # US$0.01 a token in
    settings.SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS = 50_000.0  # US$0.05 a token out
    sim.judge_usage = {"prompt_tokens": 300, "completion_tokens": 7, "total_tokens": 307}
    capture = django_capture_on_commit_callbacks
    evaluation = run(sim, operator, capture, settings, cost_cap_usd=100.0)
    assert evaluation.status == "done"
    simulated = sim.count("agent") + sim.count("caller")
    tokens_in = simulated * USAGE["prompt_tokens"] + sim.count("judge") * 300
    tokens_out = simulated * USAGE["completion_tokens"] + sim.count("judge") * 7
    assert (simulated, sim.count("judge")) == (2 * 2 * TURNS, 2)
    assert evaluation.cost_usd == pytest.approx(tokens_in * 0.01 + tokens_out * 0.05)
    for conversation in evaluation.conversations.all():
        assert (conversation.tokens_in, conversation.tokens_out) == (900, 127)
        assert conversation.cost_usd == pytest.approx(900 * 0.01 + 127 * 0.05)


def test_the_cost_cap_counts_the_judges_tokens(
    sim, operator, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATION_USD_PER_MILLION_INPUT_TOKENS = 10_000.0  # 100 tokens in = US$1
    settings.SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS = 0.0
    # The simulation of a conversation costs US$6 and its judge check US$1: the cap of 6.50
    # is reached after the first conversation only when the judge is counted.
    evaluation = run(sim, operator, django_capture_on_commit_callbacks, settings, cost_cap_usd=6.5)
    assert evaluation.status == "stopped" and "US$7.0000 spent" in evaluation.error
    assert evaluation.conversations.count() == 1
    assert evaluation.cost_usd == pytest.approx(7.0)


def test_the_wait_doubles_up_to_the_cap_and_never_falls_below_retry_after():
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (5, 8.0), (40, BACKOFF_CAP_SECONDS)]:
        waits = [backoff(attempt) for _ in range(200)]
        assert base <= min(waits) and max(waits) <= base * 1.25
        assert max(waits) > min(waits)  # jittered
    assert all(60.0 <= backoff(1, 60.0) <= 75.0 for _ in range(200))
    assert all(0.5 <= backoff(1, 0.0) <= 0.625 for _ in range(200))


def test_a_retry_gets_only_the_time_left_of_the_budget(monkeypatch):
    """A fake clock: each try takes its whole timeout, each wait its length."""
    now, timeouts, waits = [0.0], [], []

    class Clock:
        @staticmethod
        def monotonic():
            return now[0]

    def send(timeout):
        timeouts.append(timeout)
        now[0] += timeout
        raise JudgeUnavailable(f"no answer within {timeout:g} s")

    def nap(seconds):
        waits.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(simulate, "time", Clock)
    monkeypatch.setattr(simulate, "sleep", nap)
    endpoint = Endpoint("http://127.0.0.1:9/v1", "m", timeout=4.0, attempts=3, retry_seconds=5.0)
    with pytest.raises(JudgeUnavailable):
        retrying(send, endpoint)
    # 4 s, a wait of 0.5-0.625 s, then what is left of the 5 s; the next wait (1 s or more)
    # would end past the budget, so the third try never starts.
    assert len(timeouts) == 2 and len(waits) == 1
    assert timeouts[0] == 4.0 and timeouts[1] == pytest.approx(5.0 - 4.0 - waits[0])
