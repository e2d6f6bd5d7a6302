"""Side-by-side review: the page, votes and tags on a pair, and the tally fragment.

Every form on a pair posts the sample's own parameters along, so that without JavaScript the
answer is a redirect back to the very same sample, and with htmx it is that pair re-drawn.
"""

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.reviews import selectors, services
from apps.reviews.models import PairVote, Verdict
from apps.reviews.spec import new_seed, spec_from_params
from config.inputs import whole_number

VOTE, TAG = "reviews.add_pairvote", "reviews.add_calltag"
# The screen speaks of sides; the service of the calls as given (left = call_a).
CHOICES = {
    "left": Verdict.PREFER_A,
    "right": Verdict.PREFER_B,
    "both_good": Verdict.BOTH_GOOD,
    "both_bad": Verdict.BOTH_BAD,
}


def review_index(request):
    experiments = selectors.experiments_for_reviews()
    return render(request, "reviews/index.html", {"experiments": experiments})


def review(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    if experiment.variants.count() < 2:
        return render(request, "reviews/review.html", {"experiment": experiment})
    spec = _spec(experiment, request.GET)
    if request.GET.get("seed") != str(spec.seed):  # give every sample a link that keeps it
        for note in spec.notes:
            messages.info(request, note)
        return redirect(_sample_url(experiment, spec.params()))
    sample = selectors.review_sample(experiment, spec)
    selectors.pairs_annotate(experiment, sample.pairs, request.user)
    return render(request, "reviews/review.html", _page_context(request, experiment, sample))


def _spec(experiment, params):
    a, b = selectors.default_pair(experiment)
    keys = [v.key for v in experiment.variants.all()]
    return spec_from_params(params, default_a=a, default_b=b, keys=keys)


def _sample_url(experiment, params: dict, anchor: str = "") -> str:
    url = f"{reverse('reviews:review', args=[experiment.pk])}?{urlencode(params)}"
    return f"{url}#{anchor}" if anchor else url


def _page_context(request, experiment, sample) -> dict:
    spec = sample.spec
    if spec.blind and sample.all_voted:  # revealed for good: later votes keep it revealed
        spec = replace(spec, reveal=True)
    hidden = spec.blind and not spec.reveal
    return {
        "experiment": experiment,
        "sample": sample,
        "spec": spec,
        "hidden": hidden,
        "params": spec.params(),
        "pair_keys": _pair_keys(sample.pairs),
        "variants": list(experiment.variants.all()),
        "shortfalls": [s.sentence(hidden) for s in sample.shortfalls],
        "share_url": request.build_absolute_uri(_sample_url(experiment, spec.params(shared=True))),
        "another_url": _sample_url(experiment, spec.with_seed(new_seed()).params()),
        "reveal_params": {**spec.params(), "reveal": "1"},
        **_permissions(request),
    }


def _permissions(request) -> dict:
    return {"can_vote": request.user.has_perm(VOTE), "can_tag": request.user.has_perm(TAG)}


def _pair_keys(pairs) -> str:
    """The sample's pairs, posted with each vote so that the last one can reveal a blind
    sample without drawing it again (a forged list only reveals early, as the button does)."""
    return ",".join(f"{p.left.pk}-{p.right.pk}" for p in pairs if p.complete)


@require_POST
@permission_required(VOTE, raise_exception=True)
def vote(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    spec, pair = _spec(experiment, request.POST), _posted_pair(experiment, request.POST)
    if not pair.complete:
        raise Http404("A vote needs a call on each side.")
    choice = request.POST.get("choice", "")
    try:
        services.pair_vote(
            experiment=experiment,
            reviewer=request.user,
            call_a=pair.left,
            call_b=pair.right,
            choice=CHOICES.get(choice, choice),
            note=request.POST.get("note", ""),
        )
    except ValidationError as error:
        return _pair_answer(request, experiment, spec, pair, error=" ".join(error.messages))
    if request.htmx and spec.blind and not spec.reveal and _all_voted(request, experiment):
        return HttpResponse(headers={"HX-Refresh": "true"})  # the page reloads revealed
    return _pair_answer(request, experiment, spec, pair, done="Vote saved.")


def _all_voted(request, experiment) -> bool:
    keys = set()
    for key in request.POST.get("pairs", "").split(","):
        left, _, right = key.partition("-")
        if whole_number(left) is not None and whole_number(right) is not None:
            keys.add(frozenset((int(left), int(right))))
    voted = PairVote.objects.filter(experiment=experiment, reviewer=request.user)
    voted = voted.filter(call_a__in=[i for k in keys for i in k])
    return bool(keys) and keys <= {frozenset(ids) for ids in voted.values_list("call_a", "call_b")}


@require_POST
@permission_required(TAG, raise_exception=True)
def tag_add(request, pk):
    return _tag_change(request, pk, services.call_tag, "Tag saved.")


@require_POST
@permission_required(TAG, raise_exception=True)
def tag_remove(request, pk):
    return _tag_change(request, pk, services.call_untag, "Tag removed.")


def _tag_change(request, pk, service, done: str):
    experiment = get_object_or_404(Experiment, pk=pk)
    spec, pair = _spec(experiment, request.POST), _posted_pair(experiment, request.POST)
    call = next(
        (c for c in (pair.left, pair.right) if c and str(c.pk) == request.POST.get("call")), None
    )
    if call is None:
        raise Http404("No such call in this pair.")
    try:
        service(call=call, author=request.user, tag=request.POST.get("tag", ""))
    except ValidationError as error:
        return _pair_answer(request, experiment, spec, pair, error=" ".join(error.messages))
    return _pair_answer(request, experiment, spec, pair, done=done)


def _posted_pair(experiment, post) -> selectors.Pair:
    ids = [post.get("left", ""), post.get("right", "")]
    calls = Call.objects.select_related("variant").filter(experiment=experiment)
    found = calls.in_bulk([int(i) for i in ids if whole_number(i) is not None])
    if not found or any(i and (whole_number(i) not in found) for i in ids):
        raise Http404("No such calls in this experiment.")
    index = whole_number(post.get("index", "")) or 1
    left, right = (found.get(int(i)) if i else None for i in ids)
    return selectors.Pair(index, post.get("stratum", ""), left, right)


def _pair_answer(request, experiment, spec, pair, *, done="", error=""):
    """htmx: the pair re-drawn (400 with the reason on refusal). Plain POST: back to the sample."""
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or done)
        return redirect(_sample_url(experiment, spec.params(), anchor=f"pair-{pair.index}"))
    selectors.pairs_annotate(experiment, [pair], request.user)
    context = {
        "experiment": experiment,
        "pair": pair,
        "hidden": spec.blind and not spec.reveal,
        "params": spec.params(),
        "pair_keys": request.POST.get("pairs", ""),
        "done": done,
        "error": error,
        **_permissions(request),
    }
    response = render(request, "reviews/review.html#pair", context, status=400 if error else 200)
    if not error:
        response["HX-Trigger"] = "review-changed"  # the tally on the page counts again
    return response


def tally(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    context = {"experiment": experiment, "tally": selectors.preference_tally(experiment)}
    return render(request, "reviews/_tally.html", context)
