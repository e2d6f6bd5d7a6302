"""The judge's verdicts on calls.

The endpoint is asked outside any transaction (it may take seconds); what it answers is
stored afterwards. A verdict is stored per (call, criterion, model, prompt version), so
asking twice is harmless, and a transcript already judged under the same criterion, model
and prompt is never sent again (`cache_key`).
"""

import hashlib
import json
from itertools import groupby
from operator import attrgetter

import httpx
from django.conf import settings

from apps.calls.models import Call
from apps.experiments.models import GoalKind
from apps.judging.client import JudgeBadOutput, JudgeRefused, JudgeRejected, ask_judge
from apps.judging.models import Criterion, Judgement, Verdict
from apps.judging.prompt import JUDGE_PROMPT_VERSION, judge_messages, transcript_lines
from apps.judging.services.criteria import criterion_current, judging_pause, refusal_sentence


def judgement_cache_key(*, transcript: list[dict], criterion_text: str, model: str) -> str:
    """SHA-256 of everything that decides a verdict: what the judge is shown, and by whom."""
    shown = {
        "transcript": transcript_lines(transcript),
        "criterion": criterion_text.strip(),
        "model": model,
        "prompt_version": JUDGE_PROMPT_VERSION,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


def _store(call, criterion, model, cache_key, **verdict) -> Judgement:
    judgement, _ = Judgement.objects.update_or_create(
        call=call,
        criterion=criterion,
        model=model,
        prompt_version=JUDGE_PROMPT_VERSION,
        defaults={"cache_key": cache_key, "reasoning": "", "error": "", **verdict},
    )
    return judgement


def _existing(call, criterion, model) -> Judgement | None:
    return Judgement.objects.filter(
        call=call, criterion=criterion, model=model, prompt_version=JUDGE_PROMPT_VERSION
    ).first()


def _api_key(base_url: str) -> str:
    """The site's key goes only to the site's endpoint, so that an experiment pointed at
    another address cannot collect it."""
    site = settings.JUDGE_BASE_URL
    if not site:
        return ""
    same = [(u.scheme, u.host, u.port) for u in (httpx.URL(base_url), httpx.URL(site))]
    return settings.JUDGE_API_KEY if same[0] == same[1] else ""


def judge_call(*, call_id: int, criterion_id: int) -> Judgement | None:
    """The judge's verdict on one call under one criterion, asking the endpoint at most once.

    None when judging is paused, no endpoint is set, or the criterion is no longer current.
    A refusal (bad key, unknown model...) pauses the experiment's judging; JudgeRateLimited
    and JudgeUnavailable propagate, for the task to try again later.
    """
    call = Call.objects.get(pk=call_id)
    criterion = Criterion.objects.select_related("experiment").get(pk=criterion_id)
    experiment = criterion.experiment
    if call.experiment_id != experiment.pk:
        raise ValueError(f"Call {call_id} is not in the experiment of criterion {criterion_id}.")
    base_url, model = experiment.judge
    if experiment.judging_paused_reason or not (base_url and model):
        return None
    if experiment.criteria.filter(version__gt=criterion.version).exists():
        return None
    key = judgement_cache_key(
        transcript=call.transcript, criterion_text=criterion.text, model=model
    )
    done = _existing(call, criterion, model)
    if done is not None and done.cache_key == key:
        return done
    verdict = _verdict(call, criterion, base_url, model, key)
    return None if verdict is None else _store(call, criterion, model, key, **verdict)


def _verdict(call, criterion, base_url, model, key) -> dict | None:
    """No transcript, a verdict already given on the same key, or the judge's answer."""
    if not transcript_lines(call.transcript):
        return {"verdict": Verdict.UNKNOWN, "reasoning": "No transcript."}
    same = Judgement.objects.filter(cache_key=key).exclude(verdict=Verdict.ERROR).first()
    if same is not None:
        return {"verdict": same.verdict, "reasoning": same.reasoning}
    return _ask(call, criterion, base_url, model)


def _ask(call, criterion, base_url, model) -> dict | None:
    api_key = _api_key(base_url)
    try:
        answer = ask_judge(
            base_url=base_url,
            model=model,
            messages=judge_messages(criterion.text, call.transcript),
            api_key=api_key,
            timeout=settings.JUDGE_TIMEOUT_SECONDS,
        )
    except JudgeBadOutput as error:
        problem = f"The judge's answer is not a verdict: {error.raw[:1000]}"
        return {"verdict": Verdict.ERROR, "error": problem}
    except JudgeRejected as error:
        said = _masked(error.message, api_key)
        problem = f"The judge endpoint rejected this call ({error.status}): {said}"
        return {"verdict": Verdict.ERROR, "error": problem}
    except JudgeRefused as error:
        error.message = _masked(error.message, api_key)
        reason = refusal_sentence(error, base_url=base_url, model=model, sent_key=bool(api_key))
        judging_pause(experiment=criterion.experiment, reason=reason)
        return None
    return {"verdict": answer.verdict, "reasoning": answer.reasoning}


def _masked(message: str, api_key: str) -> str:
    """An endpoint may quote the key back; it must not reach pages or the audit log."""
    return message.replace(api_key, "[JUDGE_API_KEY]") if api_key else message


def judge_call_failed(*, call_id: int, criterion_id: int, error: str) -> Judgement | None:
    """Record that the judge never answered: an "error" verdict, kept out of the goal."""
    call = Call.objects.get(pk=call_id)
    criterion = Criterion.objects.select_related("experiment").get(pk=criterion_id)
    model = criterion.experiment.judge[1]
    if not model:
        return None
    key = judgement_cache_key(
        transcript=call.transcript, criterion_text=criterion.text, model=model
    )
    done = _existing(call, criterion, model)
    if done is not None and done.cache_key == key and done.verdict != Verdict.ERROR:
        return done  # another try succeeded meanwhile
    return _store(call, criterion, model, key, verdict=Verdict.ERROR, error=error)


def calls_to_judge(*, call_ids: list[int]) -> list[tuple[int, int]]:
    """(call id, criterion id) for each of these calls the judge still has to read: a custom
    goal, judging not paused, an endpoint set, and no verdict on the call's current
    transcript under the current criterion, model and prompt."""
    calls = (
        Call.objects.filter(
            pk__in=call_ids,
            experiment__goal_kind=GoalKind.CUSTOM,
            experiment__judging_paused_reason="",
        )
        .select_related("experiment")
        .order_by("experiment_id", "pk")
    )
    pending = []
    for _, group in groupby(calls, key=attrgetter("experiment_id")):
        group = list(group)
        experiment = group[0].experiment
        model = experiment.judge[1]
        if not all(experiment.judge):
            continue
        criterion = criterion_current(experiment=experiment)
        done = dict(
            Judgement.objects.filter(
                call__in=group,
                criterion=criterion,
                model=model,
                prompt_version=JUDGE_PROMPT_VERSION,
            ).values_list("call_id", "cache_key")
        )
        for call in group:
            key = judgement_cache_key(
                transcript=call.transcript, criterion_text=criterion.text, model=model
            )
            if done.get(call.pk) != key:
                pending.append((call.pk, criterion.pk))
    return pending
