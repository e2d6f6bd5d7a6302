"""Forms for the operator's pages. They only shape input; the services hold the rules."""

from django import forms
from django.core.exceptions import ValidationError

from apps.agents.models import Agent
from apps.experiments.goals import goal_choices, threshold_words, watch_choices
from apps.experiments.models import DEFAULT_THRESHOLD_PERCENT, Direction, GoalKind, Unit
from apps.metrics import for_agent
from apps.metrics import segments as segment_names
from apps.stats.scales import metric_kind


class GoalSelect(forms.RadioSelect):
    """Radio buttons that tell the page's script what each goal needs: a criterion for the
    judge, points instead of a percent, whether optimize mode can serve it."""

    def __init__(self, *args, known=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = known or {}

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        metric = self.known.get(value)
        if metric is not None:
            option["attrs"].update(
                {
                    "data-judged": "yes" if metric.key == GoalKind.CUSTOM else "no",
                    "data-effect": "points" if metric_kind(metric.key) == "score" else "percent",
                    "data-optimizable": "yes" if metric.optimizable else "no",
                }
            )
        return option


class ExperimentForm(forms.Form):
    agent = forms.ModelChoiceField(
        Agent.objects.filter(current_version__isnull=False), to_field_name="slug", empty_label=None
    )
    name = forms.CharField(
        max_length=120,
        label="Name",
        widget=forms.TextInput(attrs={"placeholder": "Warmer greeting"}),
    )
    description = forms.CharField(
        label="Hypothesis",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What do you expect to happen, and why?"}
        ),
    )
    goal_kind = forms.ChoiceField(initial="conversion", label="Goal: the metric that decides")
    goal_direction = forms.ChoiceField(
        choices=[
            ("", "As usual for this metric"),
            (Direction.HIGHER, "Higher is better"),
            (Direction.LOWER, "Lower is better"),
        ],
        required=False,
        label="Which way is better",
    )
    goal_criteria = forms.CharField(
        required=False,
        label="Criterion for the judge",
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "The agent learns the caller's "
                "budget and timeline without being pushy.",
            }
        ),
    )
    guardrails = forms.MultipleChoiceField(
        initial=["transfer_rate"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Guardrails (must not get worse)",
    )
    secondary = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Secondary metrics (reported, never decide)",
        help_text="Shown beside the goal, corrected for looking at several at once "
        "(Benjamini-Hochberg), so one of many is not called a change by luck.",
    )
    segments = forms.MultipleChoiceField(
        initial=list(segment_names.DEFAULT),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Segments kept up to date",
        help_text="Results split by these groups come with every refresh, from the same read "
        "of the calls (\u201cNew or returning caller\u201d also reads the agent's earlier "
        "calls, so it takes longer). Any other split can still be asked for on the results. "
        "A percentile goal keeps none: each of its splits is worked out when you pick it.",
    )
    unit = forms.ChoiceField(
        choices=Unit.choices,
        initial=Unit.CALLER,
        widget=forms.RadioSelect,
        label="Who gets which variant",
    )
    optimize = forms.BooleanField(
        required=False,
        label="Optimize (traffic shifts to the best variant)",
        help_text="Instead of a fixed split, traffic moves hourly toward the variant most "
        "likely to be best (each keeps at least 1%). Leave off to test with a fixed split.",
    )
    ramp = forms.BooleanField(
        required=False,
        label="Ramp up: start the variants at 5% and widen while their guardrails hold",
        help_text="Each variant gets 5% of calls at first, then 25%, then the split you set, "
        "each step once its guardrails are shown safe on enough calls.",
    )
    min_lift_percent = forms.FloatField(
        initial=5,
        min_value=0.1,
        max_value=1000,
        label="Smallest lift worth detecting (%)",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    # A score on -1..1 (sentiment) can have a mean of 0 or below, so a percent of it means
    # nothing: its smallest change is planned in points (apps/stats/scales.py).
    min_effect_points = forms.FloatField(
        initial=0.05,
        min_value=0.005,
        max_value=1,
        required=False,
        label="Smallest change worth detecting (points on the -1 to 1 scale)",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )

    def __init__(self, *args, agent_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = for_agent(agent_id)
        self.fields["goal_kind"].choices = goal_choices(self.known)
        self.fields["goal_kind"].widget = GoalSelect(known=self.known)
        self.fields["goal_kind"].widget.choices = self.fields["goal_kind"].choices
        for name in ("guardrails", "secondary"):
            self.fields[name].choices = watch_choices(self.known)
        self.fields["segments"].choices = self._segment_choices()
        for key, _ in watch_choices(self.known):
            self.fields[f"threshold_{key}"] = forms.FloatField(
                initial=DEFAULT_THRESHOLD_PERCENT,
                min_value=0,
                max_value=100,
                required=False,
                label=f"Threshold for {self.known[key].label}",
                widget=forms.NumberInput(attrs={"step": "any", "class": "threshold"}),
            )

    def _segment_choices(self) -> list[tuple[str, str]]:
        """The built-in segments, and a custom field's kept through the API (so that saving
        the form does not drop it)."""
        kept = list(self.initial.get("segments") or ())
        if hasattr(self.data, "getlist"):
            kept += self.data.getlist("segments")
        fields = {}
        for key in kept:
            try:
                segment = segment_names.parse(key)
            except segment_names.SegmentError:
                continue  # the field says it is not a valid choice
            if segment.kind == "field":
                fields[segment.key] = segment.title
        return [*segment_names.TITLES.items(), *fields.items()]

    def guardrail_rows(self) -> list[dict]:
        """Each guardrail's box, its threshold box and what the default threshold means."""
        rows = []
        for box in self["guardrails"]:
            key = box.data["value"]
            rows.append(
                {
                    "box": box,
                    "threshold": self[f"threshold_{key}"],
                    "words": threshold_words(self.known[key], DEFAULT_THRESHOLD_PERCENT),
                }
            )
        return rows

    def clean(self):
        data = super().clean()
        goal = self.known.get(data.get("goal_kind"))
        if goal is None:
            return data
        if metric_kind(goal.key) == "score" and data.get("min_effect_points") is None:
            self.add_error("min_effect_points", "Say the smallest change worth detecting.")
        if data.get("optimize") and not goal.optimizable:
            self.add_error(
                "optimize",
                "Optimize works only for goals whose calls pass or fail; this goal is tested "
                "with a fixed split.",
            )
        if data.get("optimize") and data.get("ramp"):
            self.add_error(
                "ramp",
                "Ramp up works with a fixed split only: optimize mode already moves traffic "
                "by itself. Turn one of them off.",
            )
        return data

    def _guardrails(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "metric": key,
                "threshold_percent": data.get(f"threshold_{key}")
                if data.get(f"threshold_{key}") is not None
                else DEFAULT_THRESHOLD_PERCENT,
            }
            for key in data["guardrails"]
        ]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        points = metric_kind(data["goal_kind"]) == "score"
        return {
            "agent": data["agent"],
            "optimize": data["optimize"],
            "ramp": data["ramp"],
            "name": data["name"],
            "description": data["description"],
            "goal_kind": data["goal_kind"],
            "goal_direction": data["goal_direction"],
            "goal_criteria": data["goal_criteria"],
            "guardrails": self._guardrails(),
            "secondary": data["secondary"],
            "segments": data["segments"],
            "unit": data["unit"],
            # min_lift is relative for most metrics, points for a score on -1..1
            "min_lift": data["min_effect_points"] if points else data["min_lift_percent"] / 100,
        }


class DraftForm(ExperimentForm):
    """A draft's settings, edited: everything but its agent, whose prompt is the control."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["agent"]

    def service_kwargs(self) -> dict:
        self.cleaned_data["agent"] = None
        kwargs = super().service_kwargs()
        del kwargs["agent"]
        return kwargs

    @staticmethod
    def initial_for(experiment) -> dict:
        points = metric_kind(experiment.goal_kind) == "score"
        percent = round(experiment.min_lift * 100, 4)
        percent = int(percent) if percent.is_integer() else percent  # "5", not "5.0"
        thresholds = experiment.guardrail_thresholds
        own = experiment.goal_metric
        return {
            "name": experiment.name,
            "description": experiment.description,
            "goal_kind": experiment.goal_kind,
            # the metric's own way reads "as usual", so a changed goal keeps its own way
            "goal_direction": ""
            if own and experiment.goal_direction == own.direction
            else experiment.goal_direction,
            "goal_criteria": experiment.goal_criteria,
            "guardrails": list(thresholds),
            **{f"threshold_{key}": t for key, t in thresholds.items()},
            "secondary": list(experiment.secondary),
            "segments": list(experiment.segments),
            "unit": experiment.unit,
            "optimize": experiment.optimize,
            "ramp": experiment.ramp,
            "min_lift_percent": 5 if points else percent,
            "min_effect_points": experiment.min_lift if points else 0.05,
        }


class VariantForm(forms.Form):
    name = forms.CharField(max_length=120, label="Name")
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), label="Prompt", strip=True)
    model = forms.CharField(
        max_length=100, required=False, label="Model", help_text="Leave empty to use the agent's."
    )
    temperature = forms.FloatField(
        required=False,
        min_value=0,
        max_value=2,
        label="Temperature",
        help_text="0 to 2; empty = agent's.",
    )
    voice = forms.CharField(
        max_length=100, required=False, label="Voice", help_text="Leave empty to use the agent's."
    )

    def overrides(self) -> dict:
        data = self.cleaned_data
        return {
            k: data[k] for k in ("model", "temperature", "voice") if data.get(k) not in (None, "")
        }


class ApplyForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Why apply it?"
    )


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names, else on top of the form."""
    aliases = {"min_lift": "min_lift_percent", "prompt": "prompt", "config": None}
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            name = aliases.get(field, field)
            target = name if name in form.fields else None
            for message in errors:
                form.add_error(target, message.messages)
    else:
        form.add_error(None, error.messages)
