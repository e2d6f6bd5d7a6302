"""GET /api/v1/experiments/{id}/results — the latest result snapshot."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope
from apps.experiments.models import Experiment
from apps.results.selectors import latest_snapshot
from apps.results.services import results_compute_or_record

UNAVAILABLE = (
    "The results of this experiment cannot be computed right now; the experiment page says "
    "why. Switchboard tries again every minute."
)


class _Verdict(serializers.Serializer):
    code = serializers.CharField(
        help_text="winning, losing, no_difference_yet, inconclusive, "
        "srm (traffic split problem) or guardrail (guardrail worse)."
    )
    sentence = serializers.CharField(help_text="The verdict in plain words.")


class _Srm(serializers.Serializer):
    p_value = serializers.FloatField(help_text="Chi-square test of exposures vs weights.")
    ok = serializers.BooleanField(help_text="False when p < 0.001: the split is broken.")


class _Lift(serializers.Serializer):
    relative = serializers.FloatField(help_text="(variant - control) / control.")
    ci_low = serializers.FloatField(help_text="Always-valid range, low end (Holm-corrected).")
    ci_high = serializers.FloatField(help_text="Always-valid range, high end.")


class _Variant(serializers.Serializer):
    key = serializers.CharField(help_text="control, b, c...")
    name = serializers.CharField(help_text="Name shown to people.")
    weight = serializers.IntegerField(help_text="Traffic share in percent.")
    calls = serializers.IntegerField(help_text="Calls counted (not those after the stop).")
    mean = serializers.FloatField(help_text="The goal metric (per assignment unit).")
    ci_low = serializers.FloatField(help_text="95% range of the metric, low end.")
    ci_high = serializers.FloatField(help_text="95% range of the metric, high end.")
    lift = _Lift(allow_null=True, help_text="Versus control; null for the control.")
    p_value = serializers.FloatField(allow_null=True, help_text="Always-valid p, Holm-adjusted.")
    fixed_p_value = serializers.FloatField(
        allow_null=True, help_text="Fixed-horizon Welch p (details only)."
    )
    chance_to_win = serializers.FloatField(
        allow_null=True, help_text="Bayesian chance to beat control."
    )
    verdict = _Verdict(allow_null=True, help_text="Null for the control.")


class ResultsOut(serializers.Serializer):
    computed_at = serializers.DateTimeField(help_text="When these numbers were computed.")
    frozen = serializers.BooleanField(help_text="True once the experiment stopped.")
    goal = serializers.CharField(help_text="conversion, sentiment, duration or custom.")
    direction = serializers.CharField(help_text="higher or lower is better.")
    srm = _Srm()
    verdict = _Verdict()
    variants = _Variant(many=True)


def snapshot_payload(snapshot) -> dict:
    return {**snapshot.data, "computed_at": snapshot.computed_at, "frozen": snapshot.frozen}


class ResultsView(APIView):
    @extend_schema(
        operation_id="get_results",
        responses={
            200: ResultsOut,
            409: OpenApiResponse(
                inline_serializer("ResultsUnavailable", {"error": serializers.CharField()}),
                description="The results cannot be computed; the reason is on the experiment.",
            ),
        },
        tags=["Experiments"],
        summary="Latest results of an experiment",
    )
    def get(self, request, pk):
        experiments = in_scope(request.auth, Experiment.objects.select_related("agent"), "agent_id")
        experiment = get_object_or_404(experiments, pk=pk)
        snapshot = latest_snapshot(experiment) or results_compute_or_record(experiment=experiment)
        if snapshot is None:
            return Response({"error": UNAVAILABLE}, status=409)
        return Response(ResultsOut(snapshot_payload(snapshot)).data)
