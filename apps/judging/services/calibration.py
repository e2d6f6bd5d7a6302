"""Calibration: does the judge agree with managers? And which maker a model comes from."""

import re

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.judging.models import HumanChoice, HumanVerdict, Judgement, Verdict
from apps.judging.prompt import JUDGE_PROMPT_VERSION
from apps.stats.agreement import cohens_kappa, observed_agreement

TRUSTWORTHY_KAPPA = 0.6  # "substantial" agreement (Landis & Koch, 1977)
MIN_CALIBRATION_CALLS = 20  # below this, a high kappa is luck as often as not


def human_verdict_set(*, call: Call, reviewer, verdict: str) -> HumanVerdict:
    """A manager's own pass or fail on a call; saying it again replaces their earlier one.

    Not audited: the row itself keeps who and when, and an audit entry would make every
    web process reload its routing table for a vote.
    """
    if verdict not in HumanChoice.values:
        raise ValidationError(f"A verdict is “pass” or “fail” (got “{verdict}”).")
    human, _ = HumanVerdict.objects.update_or_create(
        call=call, reviewer=reviewer, defaults={"verdict": verdict}
    )
    return human


def calibration(*, experiment: Experiment) -> dict:
    """How far the judge agrees with managers on the calls both judged pass or fail, under
    the current criterion: counts, share of agreement and Cohen's kappa. Each manager's
    verdict is one pair with the judge's verdict on that call."""
    criterion = experiment.criteria.order_by("-version").first()
    judge = Judgement.objects.filter(
        call=OuterRef("call"),
        criterion=criterion,
        model=experiment.judge[1],
        prompt_version=JUDGE_PROMPT_VERSION,
    ).values("verdict")[:1]
    rated = (
        HumanVerdict.objects.filter(call__experiment=experiment)
        .annotate(judge=Subquery(judge))
        .filter(judge__in=[Verdict.PASS, Verdict.FAIL])
        .order_by()
    )
    counts = {
        (row["verdict"], row["judge"]): row["n"]
        for row in rated.values("verdict", "judge").annotate(n=Count("id"))
    }
    order = (Verdict.PASS, Verdict.FAIL)
    table = [[counts.get((human, judged), 0) for judged in order] for human in order]
    calls = rated.values("call").distinct().count()
    pairs, agreed = sum(map(sum, table)), table[0][0] + table[1][1]
    kappa = cohens_kappa(table)
    trustworthy = (
        calls >= MIN_CALIBRATION_CALLS and kappa is not None and kappa >= TRUSTWORTHY_KAPPA
    )
    return {
        "criterion_version": criterion.version if criterion else None,
        "calls": calls,
        "pairs": pairs,
        "agreed": agreed,
        "agreement": observed_agreement(table),
        "kappa": kappa,
        "trustworthy": trustworthy,
        "sentence": _calibration_sentence(calls, pairs, agreed, kappa, trustworthy),
    }


def _calibration_sentence(calls, pairs, agreed, kappa, trustworthy) -> str:
    if not pairs:
        return (
            "No call has both a manager's verdict and the judge's yet. Mark pass or fail on "
            "judged calls to see whether the judge agrees with you."
        )
    agree = f"The judge agrees with managers on {agreed} of {pairs} verdicts"
    if calls < MIN_CALIBRATION_CALLS:
        return (
            f"{agree} so far. Judge at least {MIN_CALIBRATION_CALLS} calls by hand "
            f"({calls} done) before trusting the judge's pass rate."
        )
    if kappa is None:
        return (
            f"{agree}, but every verdict so far is the same, so agreement beyond chance "
            "cannot be measured. Judge calls that went both ways."
        )
    if trustworthy:
        return (
            f"{agree} (kappa {kappa:.2f}; 0.6 or more is substantial agreement): its pass "
            "rate can be trusted."
        )
    return (
        f"{agree} (kappa {kappa:.2f}, below 0.6): do not trust its pass rate yet. Make the "
        "criterion more precise, then compare again."
    )


# Bias warning: a judge of the same family as the agent may favour the agent's own style.

_FAMILIES = [
    ("anthropic", re.compile(r"claude")),
    ("google", re.compile(r"gemini|gemma")),
    ("meta", re.compile(r"llama")),
    ("mistral", re.compile(r"mistral|mixtral|codestral|ministral|pixtral|magistral|devstral")),
    ("qwen", re.compile(r"qwen|qwq")),
    ("openai", re.compile(r"gpt|(?<![a-z0-9])o[1-9](?![0-9])")),
]


def judge_model_family(model: str) -> str:
    """The maker of a model from its name ("gpt-4o-mini" -> "openai"), whatever the prefix a
    host adds ("meta-llama/Llama-3.1-8B", "us.anthropic.claude-..."); else its first word."""
    name = (model or "").strip().lower()
    for family, pattern in _FAMILIES:
        if pattern.search(name):
            return family
    words = re.split(r"[^a-z0-9]+", name.rsplit("/", 1)[-1])
    return next((w for w in words if w), "")


def same_family(judge_model: str, agent_model: str) -> bool:
    """Whether the judge and the agent come from the same family (a known bias)."""
    family = judge_model_family(judge_model)
    return bool(family) and family == judge_model_family(agent_model)
