"""Forms for the operator's pages. They only shape input; the services hold the rules."""

from django import forms
from django.core.exceptions import ValidationError

from apps.agents.models import Agent
from apps.experiments.models import Direction, GoalKind, Unit
from apps.experiments.services import OPTIMIZE_GOALS
from apps.metrics import guardrail_choices

GOAL_CHOICES = [
    ("conversion", "Conversion: more calls end in a successful outcome"),
    ("sentiment", "Sentiment: callers sound happier"),
    ("duration", "Call duration"),
    ("custom", "Custom: an LLM judges each call against your criterion"),
]


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
    goal_kind = forms.ChoiceField(
        choices=GOAL_CHOICES, initial=GoalKind.CONVERSION, widget=forms.RadioSelect, label="Goal"
    )
    goal_direction = forms.ChoiceField(
        choices=[(Direction.LOWER, "Shorter is better"), (Direction.HIGHER, "Longer is better")],
        initial=Direction.LOWER,
        widget=forms.RadioSelect,
        required=False,
        label="For call duration",
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
        choices=guardrail_choices(),
        initial=["transfer_rate"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Guardrails (must not get worse)",
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
    min_lift_percent = forms.FloatField(
        initial=5,
        min_value=0.1,
        max_value=1000,
        label="Smallest lift worth detecting (%)",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    # Sentiment lives on -1..1 and its mean can be 0 or negative, so a percent of it means
    # nothing: its smallest change is planned in points (apps/stats/scales.py).
    min_effect_points = forms.FloatField(
        initial=0.05,
        min_value=0.005,
        max_value=1,
        required=False,
        label="Smallest change in sentiment worth detecting (points on the -1 to 1 scale)",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )

    def clean(self):
        data = super().clean()
        goal = data.get("goal_kind")
        if goal == GoalKind.SENTIMENT and data.get("min_effect_points") is None:
            self.add_error("min_effect_points", "Say the smallest change worth detecting.")
        if data.get("optimize") and goal not in OPTIMIZE_GOALS:
            self.add_error(
                "optimize",
                "Optimize works only for conversion and custom goals, whose calls pass or "
                "fail; this goal is tested with a fixed split.",
            )
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        direction = data["goal_direction"] if data["goal_kind"] == GoalKind.DURATION else ""
        sentiment = data["goal_kind"] == GoalKind.SENTIMENT
        return {
            "agent": data["agent"],
            "optimize": data["optimize"],
            "name": data["name"],
            "description": data["description"],
            "goal_kind": data["goal_kind"],
            "goal_direction": direction,
            "goal_criteria": data["goal_criteria"],
            "guardrails": data["guardrails"],
            "unit": data["unit"],
            # min_lift is relative for rates and duration, points for sentiment
            "min_lift": data["min_effect_points"] if sentiment else data["min_lift_percent"] / 100,
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
        sentiment = experiment.goal_kind == GoalKind.SENTIMENT
        percent = round(experiment.min_lift * 100, 4)
        percent = int(percent) if percent.is_integer() else percent  # "5", not "5.0"
        return {
            "name": experiment.name,
            "description": experiment.description,
            "goal_kind": experiment.goal_kind,
            "goal_direction": experiment.goal_direction
            if experiment.goal_kind == GoalKind.DURATION
            else Direction.LOWER,
            "goal_criteria": experiment.goal_criteria,
            "guardrails": experiment.guardrails,
            "unit": experiment.unit,
            "optimize": experiment.optimize,
            "min_lift_percent": 5 if sentiment else percent,
            "min_effect_points": experiment.min_lift if sentiment else 0.05,
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
