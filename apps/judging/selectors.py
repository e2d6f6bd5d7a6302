from apps.calls.models import Call
from apps.judging.models import Judgement
from apps.judging.prompt import JUDGE_PROMPT_VERSION


def judgement_current(*, call: Call) -> Judgement | None:
    """The judge's verdict on a call under its experiment's current criterion, judge model and
    prompt: the one the goal counts. None until the judge has read the call."""
    experiment = call.experiment
    if experiment is None:
        return None
    criterion = experiment.criteria.order_by("-version").first()
    if criterion is None:
        return None
    return Judgement.objects.filter(
        call=call,
        criterion=criterion,
        model=experiment.judge[1],
        prompt_version=JUDGE_PROMPT_VERSION,
    ).first()
