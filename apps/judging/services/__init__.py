"""The LLM judge of custom goals: criteria, verdicts on calls, pauses, and calibration.

Pages, the API and the tasks import from here; the modules hold the parts:
criteria (versions, pause and resume), verdicts (asking the judge), calibration.
"""

from apps.judging.services.calibration import (
    MIN_CALIBRATION_CALLS,
    TRUSTWORTHY_KAPPA,
    calibration,
    human_verdict_set,
    judge_model_family,
    same_family,
)
from apps.judging.services.criteria import (
    criterion_current,
    criterion_update,
    judge_set,
    judging_pause,
    judging_resume,
    refusal_sentence,
)
from apps.judging.services.verdicts import (
    calls_to_judge,
    judge_call,
    judge_call_failed,
    judgement_cache_key,
)

__all__ = [
    "MIN_CALIBRATION_CALLS",
    "TRUSTWORTHY_KAPPA",
    "calibration",
    "calls_to_judge",
    "criterion_current",
    "criterion_update",
    "human_verdict_set",
    "judge_call",
    "judge_call_failed",
    "judge_model_family",
    "judge_set",
    "judgement_cache_key",
    "judging_pause",
    "judging_resume",
    "refusal_sentence",
    "same_family",
]
