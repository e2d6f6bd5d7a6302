from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from apps.agents.models import Agent
from apps.calls import export, selectors
from apps.calls.selectors import SORTS, CallFilters, CallScope
from apps.experiments.models import Experiment


def agent_volume(request, slug):
    """Calls per day for the agent page, which loads it after the page itself (htmx)."""
    agent = get_object_or_404(Agent, slug=slug)
    volume = selectors.call_volume(agent)
    return render(request, "calls/_volume.html", {"agent": agent, "volume": volume})


YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]
DAYS = [MinValueValidator(date(2000, 1, 1)), MaxValueValidator(date(2100, 12, 31))]
SORT_CHOICES = [(key, sort.words.capitalize()) for key, sort in SORTS.items()]


class CallFilterForm(forms.Form):
    """The filters above a calls list, read from the query string (a GET form)."""

    variant = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    converted = forms.ChoiceField(choices=YES_NO, required=False)
    transferred = forms.ChoiceField(choices=YES_NO, required=False)
    sentiment_min = forms.FloatField(min_value=-1, max_value=1, required=False)
    sentiment_max = forms.FloatField(min_value=-1, max_value=1, required=False)
    duration_min = forms.FloatField(min_value=0, required=False)
    duration_max = forms.FloatField(min_value=0, required=False)
    # Bounded: the last day's end is the next midnight, which does not exist after 9999-12-31.
    date_from = forms.DateField(
        required=False, validators=DAYS, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, validators=DAYS, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def __init__(self, data, *, scope: CallScope):
        super().__init__(data)
        self.fields["variant"].choices = [("", "All variants")] + [
            (v.pk, v.name if scope.experiment else f"{v.experiment.name} · {v.name}")
            for v in scope.variants()
        ]
        for name in ("sentiment_min", "sentiment_max", "duration_min", "duration_max"):
            self.fields[name].widget.attrs["placeholder"] = name.rpartition("_")[2]

    def clean(self):
        data = super().clean()
        for low, high, what in [
            ("sentiment_min", "sentiment_max", "The lowest sentiment is above the highest."),
            ("duration_min", "duration_max", "The shortest duration is above the longest."),
            ("date_from", "date_to", "The first day is after the last day."),
        ]:
            if None not in (data.get(low), data.get(high)) and data[low] > data[high]:
                self.add_error(high, what)
        return data

    def filters(self) -> CallFilters:
        """The filters that are valid; a wrong one is reported on the page and left out."""
        self.is_valid()  # cleaned_data then holds the valid fields only
        data, yes_no = self.cleaned_data, {"yes": True, "no": False}
        return CallFilters(
            **{k: data.get(k) for k in ("variant", "sentiment_min", "sentiment_max")},
            **{k: data.get(k) for k in ("duration_min", "duration_max", "date_from", "date_to")},
            converted=yes_no.get(data.get("converted")),
            transferred=yes_no.get(data.get("transferred")),
        )

    def sort_key(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("sort") or selectors.DEFAULT_SORT


# The same URL answers htmx with the table alone and browsers with the page: caches must not mix.
@vary_on_headers("HX-Request")
def experiment_calls(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    return _call_list(request, CallScope(experiment.agent, experiment))


@vary_on_headers("HX-Request")
def agent_calls(request, slug):
    return _call_list(request, CallScope(get_object_or_404(Agent, slug=slug)))


def _call_list(request, scope: CallScope):
    form = CallFilterForm(request.GET, scope=scope)
    filters, sort_key = form.filters(), form.sort_key()
    page = selectors.calls_page(
        selectors.calls_for_list(scope, filters),
        sort=SORTS[sort_key],
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    context = {"scope": scope, "form": form, "filters": filters, "page": page}
    context |= {"sort": SORTS[sort_key], "headers": _sort_headers(request, sort_key)}
    # htmx restoring history after Back wants the whole page, not the fragment.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "calls/call_list.html#rows" if partial else "calls/call_list.html"
    return render(request, template, context)


def _sort_headers(request, sort_key: str) -> dict[str, dict]:
    """For each sortable column: the link that sorts by it (newest, longest, most positive
    first; a second click turns it round) and its aria-sort state."""
    headers = {}
    for name in ("started_at", "duration", "sentiment"):
        query = request.GET.copy()
        for cursor in ("after", "before"):
            query.pop(cursor, None)
        query["sort"] = name if sort_key == f"-{name}" else f"-{name}"
        state = {f"-{name}": "descending", name: "ascending"}.get(sort_key, "none")
        headers[name] = {"href": f"?{query.urlencode()}", "aria_sort": state}
    return headers


def experiment_calls_csv(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    return _calls_csv(request, CallScope(experiment.agent, experiment))


def agent_calls_csv(request, slug):
    return _calls_csv(request, CallScope(get_object_or_404(Agent, slug=slug)))


def _calls_csv(request, scope: CallScope):
    """The list's calls, filtered and sorted as on the page, every page at once."""
    form = CallFilterForm(request.GET, scope=scope)
    calls = form.filters().apply(scope.calls()).order_by(*SORTS[form.sort_key()].order_by)
    filename = f"{scope.file_stem}-calls-{timezone.localdate():%Y-%m-%d}.csv"
    return export.calls_csv_response(calls, filename=filename)


def call_detail(request, pk):
    call = get_object_or_404(selectors.calls_for_page(), pk=pk)
    everything = request.GET.get("all") == "1"
    context = {
        "call": call,
        "transcript": selectors.transcript_for_page(call, everything=everything),
        "fields": selectors.custom_fields(call),
        "ending": selectors.ending(call),
        "latency": selectors.milliseconds(call.response_latency_ms),
    }
    return render(request, "calls/call_detail.html", context)
