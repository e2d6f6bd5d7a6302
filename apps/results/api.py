"""GET /api/v1/experiments/{id}/results — the latest result snapshot (?fresh=1: computed now;
?segment=D: with the goal per value of segment D)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope
from apps.experiments.models import Experiment
from apps.results.segment_table import SegmentError, segment_table
from apps.results.segments import valid_names
from apps.results.selectors import latest_snapshot
from apps.results.services import results_compute_or_record, results_recompute

UNAVAILABLE = (
    "The results of this experiment cannot be computed right now; the experiment page says "
    "why. Switchboard tries again every minute."
)
ONE_SEGMENT = "Ask for one segment at a time: ?segment= was given {} times."


class _Verdict(serializers.Serializer):
    code = serializers.CharField(
        help_text="winning (better and every guardrail shown safe), guardrail_pending (better, "
        "but a guardrail is not yet shown to be no worse: applying needs a written reason), "
        "losing, no_difference_yet, inconclusive, srm (traffic split problem), guardrail "
        "(a guardrail significantly worse: applying is blocked) or changed (the effect changed "
        "over time: no single change fits every look, so there is no verdict)."
    )
    sentence = serializers.CharField(help_text="The verdict in plain words.")


class _Srm(serializers.Serializer):
    p_value = serializers.FloatField(
        help_text="Anytime-valid p-value of units (callers, or calls) per variant against "
        "the split, phase by phase (Dirichlet-multinomial mixture test)."
    )
    ok = serializers.BooleanField(help_text="False when p < 0.001: the split is broken.")
    units = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Units checked per variant key (callers, or calls), over every phase; units "
        "whose first call was within a minute of a split change are not checked.",
    )
    expected = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text="Units per variant key that each phase's split leads to expect.",
    )


class _Lift(serializers.Serializer):
    absolute = serializers.FloatField(
        help_text="variant - control in the metric's unit: a fraction for rates (0.021 = 2.1 "
        "percentage points), points on -1..1 for sentiment, seconds for duration. The verdict "
        "is decided on this scale."
    )
    ci_low = serializers.FloatField(
        help_text="Always-valid range of the absolute change, low end (Holm-corrected)."
    )
    ci_high = serializers.FloatField(help_text="The same range, high end.")
    relative = serializers.FloatField(
        allow_null=True,
        help_text="(variant - control) / control, shown beside; null for sentiment, whose "
        "mean can be 0 or negative.",
    )
    relative_low = serializers.FloatField(
        allow_null=True,
        required=False,
        help_text="The range as a share of the control's mean (display only; never below "
        "-1: a rate cannot fall by more than all of it). Null where relative is null.",
    )
    relative_high = serializers.FloatField(
        allow_null=True, required=False, help_text="The same, high end."
    )
    ok = serializers.BooleanField(help_text="False when there are not enough calls yet.")


class _GuardrailRow(_Lift):
    key = serializers.CharField(help_text="The variant.")
    mean = serializers.FloatField(allow_null=True, help_text="The variant's guardrail metric.")
    worse_by = serializers.FloatField(help_text="The change in the bad direction (+ = worse).")
    worst = serializers.FloatField(help_text="The bad end of the range, as worse_by.")
    shown_safe = serializers.BooleanField(
        help_text="True when the range excludes every change worse than the threshold."
    )


class _Guardrail(serializers.Serializer):
    metric = serializers.CharField(help_text="transfer_rate, completion_rate, duration, sentiment.")
    label = serializers.CharField(help_text="Name shown to people.")
    direction = serializers.CharField(help_text="higher or lower is better.")
    threshold = serializers.FloatField(
        allow_null=True,
        help_text="The change that matters, in the metric's unit: the experiment's "
        "guardrail_threshold as is for rates (0.03 = 3 percentage points) and sentiment "
        "(points), times the control's mean for duration.",
    )
    worse = serializers.ListField(
        child=serializers.CharField(), help_text="Variants significantly worse (apply blocked)."
    )
    unproven = serializers.ListField(
        child=serializers.CharField(), help_text="Variants not yet shown to be no worse."
    )
    variants = _GuardrailRow(many=True)


class _Plan(serializers.Serializer):
    calls_per_variant = serializers.IntegerField(
        allow_null=True,
        help_text="Units per variant (callers when each caller keeps one variant) at which "
        "the always-valid verdict finds the smallest lift worth detecting 80% of the time.",
    )
    fewest_calls = serializers.IntegerField(help_text="Units so far in the smallest variant.")
    progress = serializers.FloatField(allow_null=True, help_text="fewest_calls / plan, at most 1.")
    days_left = serializers.IntegerField(allow_null=True, help_text="At the current volume.")


class _Variant(serializers.Serializer):
    key = serializers.CharField(help_text="control, b, c...")
    name = serializers.CharField(help_text="Name shown to people.")
    weight = serializers.IntegerField(help_text="Traffic share in percent.")
    calls = serializers.IntegerField(help_text="Calls counted (not those after the stop).")
    mean = serializers.FloatField(help_text="The goal metric (per assignment unit).")
    ci_low = serializers.FloatField(help_text="95% range of the metric, low end.")
    ci_high = serializers.FloatField(help_text="95% range of the metric, high end.")
    units = serializers.IntegerField(
        required=False,
        help_text="Assignment units analysed: callers (each in the variant of their first "
        "call) or calls.",
    )
    lift = _Lift(
        allow_null=True,
        help_text="Versus control, compared within each phase of the split and combined; "
        "the range is the running intersection of every look's always-valid range. Null for "
        "the control.",
    )
    p_value = serializers.FloatField(
        allow_null=True,
        help_text="Always-valid p, Holm-adjusted; the smallest so far (as the range is the "
        "running intersection of every look's).",
    )
    fixed_p_value = serializers.FloatField(
        allow_null=True, help_text="Fixed-horizon Welch p (details only)."
    )
    chance_to_win = serializers.FloatField(
        allow_null=True,
        help_text="Bayesian chance to beat control, for details only: not a decision rule "
        "(read repeatedly it passes 95% in about one A/A test in five); use verdict.",
    )
    verdict = _Verdict(allow_null=True, help_text="Null for the control.")


class _MetricChange(serializers.Serializer):
    absolute = serializers.FloatField(
        allow_null=True, help_text="variant - control in the metric's unit."
    )
    relative = serializers.FloatField(
        allow_null=True, help_text="(variant - control) / control; null where meaningless."
    )
    ci_low = serializers.FloatField(allow_null=True, help_text="Always-valid range, low end.")
    ci_high = serializers.FloatField(allow_null=True, help_text="Always-valid range, high end.")


class _MetricVariant(serializers.Serializer):
    key = serializers.CharField(help_text="The variant.")
    value = serializers.FloatField(allow_null=True, help_text="The metric for this variant.")
    ci_low = serializers.FloatField(allow_null=True, help_text="95% range of the value, low.")
    ci_high = serializers.FloatField(allow_null=True, help_text="95% range of the value, high.")
    units = serializers.IntegerField(help_text="Units with a value for this metric.")
    change = _MetricChange(allow_null=True, help_text="Versus the control; null for it.")
    verdict = serializers.CharField(
        allow_null=True,
        help_text="The goal: the variant's verdict code. A guardrail: worse (significantly, "
        "by more than the threshold or not), safe (shown to be no worse than the threshold) "
        "or not_yet. Null for the control.",
    )


class _Metric(serializers.Serializer):
    key = serializers.CharField(help_text="The metric's key in the registry (apps/metrics).")
    name = serializers.CharField(help_text="Its name for people.")
    role = serializers.CharField(
        help_text="goal, guardrail or secondary (secondary metrics are corrected by "
        "Benjamini-Hochberg across them and never decide the verdict)."
    )
    unit = serializers.CharField(
        help_text="How its change is written: rate (percentage points), score (points on "
        "-1..1), seconds, ms, usd or count (per call)."
    )
    direction = serializers.CharField(help_text="higher or lower is better.")
    variants = _MetricVariant(many=True)


class ResultsOut(serializers.Serializer):
    computed_at = serializers.DateTimeField(help_text="When these numbers were computed.")
    frozen = serializers.BooleanField(help_text="True once the experiment stopped.")
    goal = serializers.CharField(help_text="conversion, sentiment, duration or custom.")
    direction = serializers.CharField(help_text="higher or lower is better.")
    srm = _Srm()
    verdict = _Verdict()
    variants = _Variant(many=True)
    guardrails = _Guardrail(many=True, required=False)
    metrics = _Metric(
        many=True,
        required=False,
        help_text="Every metric the experiment watches in one shape: the goal, then each "
        "guardrail.",
    )
    plan = _Plan(required=False)
    segment = serializers.DictField(
        required=False,
        help_text="With ?segment=: the goal per segment value. `values`: per value its "
        "`label`, `variants` (key, name, units, calls, value) and `changes` (per variant: "
        "absolute change versus the control with `ci_low`/`ci_high`, an always-valid range "
        "corrected for `groups` values (Bonferroni; Holm over variants), and a `sentence`). "
        "`opposite`: warnings when a variant's corrected ranges point in opposite directions "
        "in different values; `disagree`: softer notes when only point estimates do. No "
        "segment value is ever a winner on its own: decide on the overall verdict.",
    )


def snapshot_payload(snapshot) -> dict:
    return {
        **snapshot.result.to_json(),
        "computed_at": snapshot.computed_at,
        "frozen": snapshot.frozen,
    }


class ResultsView(APIView):
    @extend_schema(
        operation_id="get_results",
        responses={
            200: ResultsOut,
            400: OpenApiResponse(
                inline_serializer("SegmentRefused", {"error": serializers.CharField()}),
                description="An unknown segment or a bad field name; the error lists the "
                "valid ones.",
            ),
            409: OpenApiResponse(
                inline_serializer("ResultsUnavailable", {"error": serializers.CharField()}),
                description="The results cannot be computed; the reason is on the experiment.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "fresh",
                int,
                enum=[0, 1],
                required=False,
                description="1: compute the results now (as the page's Recompute now button) "
                "instead of returning the latest snapshot, which is at most a minute old. A "
                "stopped experiment's results stay frozen.",
            ),
            OpenApiParameter(
                "segment",
                str,
                required=False,
                description="Also give the goal per value of one segment: "
                + ", ".join(valid_names())
                + " (a text custom field; its name: letters, digits, underscores). The unit's "
                "value is that of its first call; hours and days in the site's time zone.",
            ),
        ],
        tags=["Experiments"],
        summary="Latest results of an experiment",
    )
    def get(self, request, pk):
        experiments = in_scope(request.auth, Experiment.objects.select_related("agent"), "agent_id")
        experiment = get_object_or_404(experiments, pk=pk)
        if request.query_params.get("fresh") == "1":
            snapshot = results_recompute(experiment=experiment)
        else:
            snapshot = latest_snapshot(experiment) or results_compute_or_record(
                experiment=experiment
            )
        if snapshot is None:
            return Response({"error": UNAVAILABLE}, status=409)
        payload = snapshot_payload(snapshot)
        if "segment" in request.query_params:
            asked = request.query_params.getlist("segment")
            if len(asked) > 1:  # answering with the last one would hide the others silently
                return Response({"error": ONE_SEGMENT.format(len(asked))}, status=400)
            try:
                payload["segment"] = segment_table(experiment, snapshot, asked[0])
            except SegmentError as error:
                return Response({"error": str(error)}, status=400)
        return Response(ResultsOut(payload).data)
