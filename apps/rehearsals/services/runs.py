"""Running an evaluation (the body of the `rehearsals.run` task).

Plays every (scenario, arm, play) not yet stored, SIMULATION_CONCURRENCY at a time in threads
that only talk HTTP (the simulation and the judge); this thread alone writes the database,
one conversation at a time, so progress is visible and a redelivered task resumes where the
last one stopped. A session advisory lock keeps two workers from running one evaluation.

A conversation already played with the same prompt, config, scenario content, play index
and models (its cache_key) is copied, not played again, and costs nothing. A conversation
costs its simulation's tokens and its judge checks' alike. Spending reaches the cost cap:
nothing more is started, status "stopped". The endpoint refusing us (bad key, unknown
model): status "failed". Rate limits, 5xx and timeouts are tried again (SIMULATION_RETRIES
within SIMULATION_RETRY_SECONDS per request); those that persist and malformed replies:
that conversation's error.
"""

import contextlib
import hashlib
import json
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.rehearsals.models import Conversation, Evaluation, Kind, Scenario, Status
from apps.rehearsals.outcomes import Played, summarise
from apps.rehearsals.services.play import Job, PlayResult, play, sides

LOCK_CLASS = 14_014  # advisory lock namespace: issue 14's runs


@contextlib.contextmanager
def _run_lock(evaluation_id: int):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, evaluation_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, evaluation_id])


def evaluation_run(*, evaluation: Evaluation) -> Evaluation:
    """Play what is left of the evaluation and store its results. Safe to call twice."""
    with _run_lock(evaluation.pk) as got:
        evaluation = Evaluation.objects.select_related("agent", "experiment").get(pk=evaluation.pk)
        if not got or evaluation.status not in (Status.QUEUED, Status.RUNNING):
            return evaluation
        Evaluation.objects.filter(pk=evaluation.pk).update(
            status=Status.RUNNING, started_at=evaluation.started_at or timezone.now()
        )
        outcome, error = _play_all(evaluation)
        return _finish(evaluation, outcome, error)


def cache_key(job: Job) -> str:
    shown = {
        "prompt": job.prompt_sha256,
        "config": job.config,
        "scenario": job.scenario.content_sha256,
        "play": job.play,
        "agent_model": job.agent.model,
        "caller_model": job.caller_side.model,
        "judge_model": job.judge.model if job.judge else "",
        "judge_prompt": JUDGE_PROMPT_VERSION,
        "caller_prompt": job.caller_prompt_version,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def _jobs(evaluation: Evaluation) -> list[Job]:
    done = set(evaluation.conversations.values_list("scenario_id", "arm", "play"))
    scenarios = Scenario.objects.filter(pk__in=evaluation.scenario_ids).order_by("name")
    # A nightly check plays the current prompt alone: its "control" would be the same prompt.
    names = ("variant",) if evaluation.kind == Kind.NIGHTLY else ("control", "variant")
    arms = {arm: sides(evaluation, arm) for arm in names}
    return [
        arms[arm].job(scenario, play)
        for scenario in scenarios
        for play in range(evaluation.plays)
        for arm in names
        if (scenario.pk, arm, play) not in done
    ]


def _reuse(evaluation: Evaluation, job: Job, key: str) -> bool:
    cached = Conversation.objects.filter(cache_key=key, error="").exclude(overall="error").first()
    if cached is None:
        return False
    _store(evaluation, job, key, PlayResult.from_conversation(cached), reused=True)
    return True


def _play_all(evaluation: Evaluation) -> tuple[str, str]:
    """(status, error) once every job is stored, the cap is reached or the endpoint refuses."""
    pending = [(job, cache_key(job)) for job in _jobs(evaluation)]
    if evaluation.kind != Kind.NIGHTLY:  # a nightly looks for drift the cache would hide
        pending = [(job, key) for job, key in pending if not _reuse(evaluation, job, key)]
    total = len(pending)
    limit = max(1, settings.SIMULATION_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=limit) as pool:
        running, stop = {}, None
        while pending or running:
            while pending and len(running) < limit and stop is None:
                job, key = pending.pop(0)
                running[pool.submit(play, job)] = (job, key)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job, key = running.pop(future)
                result = future.result()
                _store(evaluation, job, key, result)
                stop = stop or _why_stop(evaluation, result, total - len(pending) - len(running))
    return stop or (Status.DONE, "")


def _why_stop(evaluation: Evaluation, result: PlayResult, played: int) -> tuple | None:
    if result.refused:
        return Status.FAILED, f"The simulation endpoint refused us: {result.error}"
    spent = Evaluation.objects.values_list("cost_usd", flat=True).get(pk=evaluation.pk)
    if spent >= evaluation.cost_cap_usd:
        return Status.STOPPED, (
            f"Stopped at the cost cap: US${spent:.4f} spent of the US${evaluation.cost_cap_usd:.4f}"
            f" allowed, after {played} new conversations. Raise the cap or use fewer scenarios "
            "or plays, and run it again."
        )
    return None


def _store(evaluation, job: Job, key: str, result: PlayResult, reused: bool = False) -> None:
    cost = 0.0 if reused else result.cost_usd
    Conversation.objects.create(
        evaluation=evaluation,
        scenario=job.scenario,
        scenario_name=job.scenario.name,
        arm=job.arm,
        play=job.play,
        transcript=result.transcript,
        outcomes=result.outcomes,
        overall=result.overall,
        failing_turns=result.failing_turns,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        cost_usd=cost,
        error=result.error,
        reused=reused,
        cache_key=key,
    )
    Evaluation.objects.filter(pk=evaluation.pk).update(cost_usd=F("cost_usd") + cost)


def _finish(evaluation: Evaluation, status: str, error: str) -> Evaluation:
    rows = evaluation.conversations.values_list(
        "scenario_id", "scenario_name", "arm", "overall", "outcomes"
    )
    results = summarise([Played(*row) for row in rows], margin=evaluation.margin)
    gate = results.gate if status == Status.DONE else "failed"
    Evaluation.objects.filter(pk=evaluation.pk).update(
        status=status,
        error=error,
        gate=gate,
        results=results.to_json(),
        finished_at=timezone.now(),
    )
    evaluation.refresh_from_db()
    return evaluation
