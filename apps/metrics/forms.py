from django import forms

from apps.metrics.models import Aggregate, FieldType


class CustomMetricForm(forms.Form):
    """The page's input; the rules themselves live in services.custom_metric_create."""

    name = forms.CharField(
        max_length=80, label="Name", help_text="What people will read, e.g. “Booked a visit”."
    )
    key = forms.CharField(
        max_length=32,
        label="Key",
        help_text="Its id in the API and in exports: lower-case letters, digits and "
        "underscores, e.g. booked_visit.",
    )
    field = forms.CharField(
        max_length=64,
        label="Post-call field",
        help_text="The name the router sends in the call's fields, exactly (e.g. booked).",
    )
    type = forms.ChoiceField(choices=FieldType.choices, label="The field holds")
    aggregate = forms.ChoiceField(
        choices=Aggregate.choices,
        label="Summarise it as",
        help_text="A yes/no field: the share of calls where it is true. A number: the average, "
        "the median or the 95th percentile.",
    )
    direction = forms.ChoiceField(
        choices=[("higher", "Higher is better"), ("lower", "Lower is better")],
        label="Which way is better",
    )
