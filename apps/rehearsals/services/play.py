"""One play of one scenario on one arm, and the endpoints it runs on.

`play(job)` runs in a worker thread: it talks HTTP only (simulation, then the judge for the
judge checks) and touches no database. Whatever goes wrong comes back inside PlayResult:
`error` for a conversation that could not be played, `refused` when retrying cannot help.
Its tokens are the simulation's and the judge checks' together, priced alike.
"""

import math
from dataclasses import dataclass, field

import redis
from django.conf import settings

from apps.judging.client import JudgeRefused
from apps.rehearsals.checks import ERROR, check_label, overall, run_check
from apps.rehearsals.models import Conversation, Evaluation, Scenario
from apps.rehearsals.simulate import (
    CALLER_PROMPT_VERSION,
    Caller,
    Endpoint,
    SimulationFailed,
    converse,
)
from apps.rehearsals.slots import NoSlot, simulation_slot


@dataclass(frozen=True)
class Job:
    scenario: Scenario
    arm: str
    play: int
    prompt: str
    prompt_sha256: str
    config: dict
    agent: Endpoint
    caller_side: Endpoint
    judge: Endpoint | None
    caller_prompt_version: int = CALLER_PROMPT_VERSION


@dataclass
class PlayResult:
    transcript: list[dict] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    overall: str = ""
    failing_turns: list[int] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""
    refused: bool = False

    @property
    def cost_usd(self) -> float:
        return (
            self.tokens_in * settings.SIMULATION_USD_PER_MILLION_INPUT_TOKENS
            + self.tokens_out * settings.SIMULATION_USD_PER_MILLION_OUTPUT_TOKENS
        ) / 1_000_000

    @classmethod
    def from_conversation(cls, c: Conversation) -> "PlayResult":
        return cls(c.transcript, c.outcomes, c.overall, c.failing_turns, c.tokens_in, c.tokens_out)


@dataclass(frozen=True)
class ArmSide:
    arm: str
    prompt: str
    prompt_sha256: str
    config: dict
    agent: Endpoint
    caller_side: Endpoint
    judge: Endpoint | None

    def job(self, scenario: Scenario, play: int) -> Job:
        return Job(
            scenario,
            self.arm,
            play,
            self.prompt,
            self.prompt_sha256,
            self.config,
            self.agent,
            self.caller_side,
            self.judge,
        )


def _temperature(config: dict) -> float | None:
    value = config.get("temperature")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return min(2.0, max(0.0, float(value)))
    return None


def _judge(evaluation: Evaluation) -> Endpoint | None:
    experiment = evaluation.experiment
    base_url, model = (
        experiment.judge if experiment else (settings.JUDGE_BASE_URL, settings.JUDGE_MODEL)
    )
    if not (base_url and model):
        return None
    # The site's key goes only to the site's endpoint (as in apps.judging).
    key = settings.JUDGE_API_KEY if base_url == settings.JUDGE_BASE_URL else ""
    return Endpoint(base_url, model, key, settings.JUDGE_TIMEOUT_SECONDS, **_retries())


def _retries() -> dict:
    return {
        "attempts": max(1, settings.SIMULATION_RETRIES),
        "retry_seconds": settings.SIMULATION_RETRY_SECONDS,
    }


def sides(evaluation: Evaluation, arm: str) -> ArmSide:
    prompt = evaluation.variant_prompt if arm == "variant" else evaluation.control_prompt
    config = evaluation.variant_config if arm == "variant" else evaluation.control_config
    url, key = settings.SIMULATION_BASE_URL, settings.SIMULATION_API_KEY
    timeout = settings.SIMULATION_TIMEOUT_SECONDS
    model = str(config.get("model") or settings.SIMULATION_MODEL)
    return ArmSide(
        arm=arm,
        prompt=prompt.body,
        prompt_sha256=prompt.sha256,
        config=config,
        agent=Endpoint(url, model, key, timeout, _temperature(config), **_retries()),
        caller_side=Endpoint(
            url, settings.SIMULATION_CALLER_MODEL or model, key, timeout, **_retries()
        ),
        judge=_judge(evaluation),
    )


def play(job: Job) -> PlayResult:
    scenario = job.scenario
    caller = Caller(scenario.persona, scenario.goal, scenario.facts, tuple(scenario.replay_turns))
    try:
        with simulation_slot():
            transcript = converse(
                agent=job.agent,
                system_prompt=job.prompt,
                caller=caller,
                caller_side=job.caller_side,
                max_turns=scenario.max_turns,
            )
    except SimulationFailed as failed:
        said = failed.transcript
        return PlayResult(
            said.turns,
            overall=ERROR,
            tokens_in=said.tokens_in,
            tokens_out=said.tokens_out,
            error=f"The simulation stopped: {failed}",
            refused=isinstance(failed.cause, JudgeRefused),
        )
    except (NoSlot, redis.RedisError) as error:
        return PlayResult(overall=ERROR, error=f"Not played: {error}")
    return _checked(job, transcript)


def _checked(job: Job, transcript) -> PlayResult:
    outcomes, failing = [], set()
    tokens_in, tokens_out = transcript.tokens_in, transcript.tokens_out
    for check in job.scenario.checks:
        result = run_check(check, transcript.turns, job.judge)
        failing.update(result.failing_turns)
        tokens_in, tokens_out = tokens_in + result.tokens_in, tokens_out + result.tokens_out
        outcomes.append(
            {
                "label": check_label(check),
                "kind": check["kind"],
                "outcome": result.outcome,
                "note": result.note,
            }
        )
    return PlayResult(
        transcript=transcript.turns,
        outcomes=outcomes,
        overall=overall([o["outcome"] for o in outcomes]) or "",
        failing_turns=sorted(failing),
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
