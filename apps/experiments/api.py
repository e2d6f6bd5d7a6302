"""Management API for experiments (admin keys): the same services as the operator's pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope
from apps.agents.models import Agent
from apps.experiments import selectors
from apps.experiments.models import Direction, Unit
from apps.experiments.services import (
    experiment_create,
    experiment_delete,
    experiment_segments_keep,
    experiment_start,
    experiment_stop,
    experiment_update,
    variant_add,
    variant_pause,
    variant_remove,
    variant_resume,
    weights_set,
    winner_apply,
)
from config.api import JsonInput


class GoalSerializer(JsonInput):
    kind = serializers.CharField(
        source="goal_kind",
        max_length=100,
        help_text="Any metric key of the agent (apps/metrics: built-in and custom-field), e.g. "
        "conversion, cost_per_call, tool_success_rate; custom = an LLM judge's pass rate.",
    )
    direction = serializers.ChoiceField(
        Direction.values,
        source="goal_direction",
        required=False,
        help_text="higher|lower is better; defaults to the metric's own.",
    )
    criteria = serializers.CharField(
        source="goal_criteria",
        required=False,
        allow_blank=True,
        help_text="For custom: what a good call does.",
    )


class GuardrailOut(serializers.Serializer):
    metric = serializers.CharField(help_text="The metric's key.")
    threshold_percent = serializers.FloatField(
        help_text="Pause a variant significantly worse by more than this: percentage points "
        "of a rate, hundredths of a point of sentiment, percent of the control's mean otherwise."
    )


GUARDRAILS_IN = (
    "Metrics that must not get worse: [{metric, threshold_percent}] (threshold 0 to 100, "
    'default 3), or metric keys alone, meaning the default: ["transfer_rate"].'
)


def _guardrails_in(required=False):
    # Any JSON per item: the service checks each one and says what is wrong in words.
    return serializers.ListField(
        child=serializers.JSONField(), required=required, help_text=GUARDRAILS_IN
    )


def _secondary_in():
    return serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text="Metric keys reported beside the goal with a Benjamini-Hochberg correction; "
        "not the goal, not a guardrail.",
    )


def _segments_in(required=False):
    return serializers.ListField(
        child=serializers.JSONField(),
        required=required,
        help_text="Segments kept up to date with every result, computed in the same scan of "
        "the calls: hour_of_day, weekday, caller_country, returning_caller, ended_by or "
        "field:<name> (at most 8). Default: hour_of_day, weekday, caller_country, ended_by. "
        "Any other segment can still be asked for with the results' ?segment=.",
    )


class VariantOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="Report it back with each call.")
    key = serializers.CharField(help_text="control, b, c...")
    name = serializers.CharField(help_text="Name shown to people.")
    weight = serializers.IntegerField(help_text="Share of traffic in whole percent; 0 = paused.")
    is_control = serializers.BooleanField(help_text="The agent's prompt when the test began.")
    prompt_version = serializers.IntegerField(
        source="prompt_version.number", help_text="Prompt version number."
    )
    prompt_sha256 = serializers.CharField(
        source="prompt_version.sha256", help_text="SHA-256 of the prompt."
    )
    config = serializers.DictField(source="config_overrides", help_text="Config overrides.")


class ExperimentOut(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.SlugField(source="agent.slug", help_text="The agent's slug.")
    name = serializers.CharField()
    description = serializers.CharField(help_text="The hypothesis.")
    goal = GoalSerializer(source="*")
    guardrails = GuardrailOut(many=True, help_text="Metrics that must not get worse.")
    secondary = serializers.ListField(
        child=serializers.CharField(), help_text="Metrics reported beside the goal."
    )
    segments = serializers.ListField(
        child=serializers.CharField(), help_text="Segments kept up to date with the results."
    )
    unit = serializers.CharField(help_text="caller: each caller keeps a variant; call: per call.")
    status = serializers.CharField(help_text="draft, running, stopped or applied.")
    weights_version = serializers.IntegerField(
        help_text="Send it back as expected_version to refuse overwriting someone's split."
    )
    winner = serializers.CharField(source="winner.key", allow_null=True, default=None)
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    variants = VariantOut(many=True)
    ramp = serializers.BooleanField(
        help_text="Ramp up: the variants start at 5% and widen while their guardrails hold."
    )
    ramp_target = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="With a ramp, once started: the split the variants widen to, by key.",
    )


class ExperimentIn(JsonInput):
    agent = serializers.SlugField(help_text="The agent's slug.")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=5000,
        help_text="What do you expect to happen, and why?",
    )
    goal = GoalSerializer()
    unit = serializers.ChoiceField(Unit.values, default=Unit.CALLER)
    guardrails = _guardrails_in()
    secondary = _secondary_in()
    segments = _segments_in()
    min_lift = serializers.FloatField(
        required=False,
        default=0.05,
        help_text="Smallest change worth detecting: relative for rates and duration "
        "(0.05 = 5%), in points for sentiment (0.05 = 0.05 points on -1..1).",
    )
    ramp = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start the variants at 5% and widen (25%, then the split set at start) "
        "while their guardrails are shown safe. Not with optimize mode.",
    )


class DraftIn(JsonInput):
    """A draft's settings; any left out keep their value."""

    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="The hypothesis."
    )
    goal = GoalSerializer(required=False)
    unit = serializers.ChoiceField(Unit.values, required=False)
    guardrails = _guardrails_in()
    secondary = _secondary_in()
    segments = _segments_in()
    min_lift = serializers.FloatField(required=False)
    optimize = serializers.BooleanField(
        required=False, help_text="Only for conversion and custom goals."
    )
    ramp = serializers.BooleanField(
        required=False, help_text="Start the variants at 5% and widen while guardrails hold."
    )

    def settings_of(self, experiment) -> dict:
        data = dict(self.validated_data)
        goal = data.pop("goal", None) or {"goal_kind": experiment.goal_kind}
        if goal["goal_kind"] == experiment.goal_kind:
            goal = {
                "goal_direction": experiment.goal_direction,
                "goal_criteria": experiment.goal_criteria,
                **goal,
            }
        fields = (
            "name",
            "description",
            "unit",
            "guardrails",
            "secondary",
            "segments",
            "min_lift",
            "optimize",
            "ramp",
        )
        current = {field: getattr(experiment, field) for field in fields}
        return {**current, **data, **goal}


class VariantIn(JsonInput):
    name = serializers.CharField(max_length=120, required=False, default="")
    prompt = serializers.CharField(
        required=False, help_text="The variant's prompt; defaults to the control's."
    )
    config = serializers.DictField(required=False, default=dict, help_text="Config overrides.")


class WeightsIn(JsonInput):
    weights = serializers.DictField(
        child=serializers.JSONField(), help_text='{"control": 50, "b": 50}; must add up to 100.'
    )
    expected_version = serializers.IntegerField(required=False, allow_null=True, default=None)


class SegmentsIn(JsonInput):
    segments = _segments_in(required=True)


class ApplyIn(JsonInput):
    variant = serializers.CharField(help_text="The key of the variant to apply, e.g. “b”.")
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class PauseIn(JsonInput):
    reason = serializers.CharField(
        max_length=1000,
        help_text="Why, in a sentence; shown on the experiment page and kept in the audit log.",
    )


VARIANT_KEY = OpenApiParameter(
    "key",
    str,
    OpenApiParameter.PATH,
    description="The variant's key: b, c, ... (the control cannot be paused).",
)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _experiment(request, pk):
    experiments = in_scope(request.auth, selectors.experiments_for_page(), "agent_id")
    return get_object_or_404(experiments, pk=pk)


def _variant_key(experiment, key: str) -> str:
    """The key of a variant of this experiment; any other is answered 404, as the path names it."""
    if not experiment.variants.filter(key=key).exists():
        raise NotFound(f"There is no variant “{key}” in this experiment.")
    return key


def _out(pk, code=status.HTTP_200_OK):
    return Response(ExperimentOut(selectors.experiments_for_page().get(pk=pk)).data, status=code)


class ExperimentsView(APIView):
    @extend_schema(
        operation_id="list_experiments", responses=ExperimentOut(many=True), tags=["Experiments"]
    )
    def get(self, request):
        experiments = in_scope(request.auth, selectors.experiments_for_page(), "agent_id")
        return Response(ExperimentOut(experiments.order_by("-created_at", "-id"), many=True).data)

    @extend_schema(
        operation_id="create_experiment",
        request=ExperimentIn,
        responses={201: ExperimentOut},
        tags=["Experiments"],
    )
    def post(self, request):
        data = _valid(ExperimentIn, request)
        agent = get_object_or_404(in_scope(request.auth, Agent.objects), slug=data["agent"])
        experiment = experiment_create(
            agent=agent,
            name=data["name"],
            description=data["description"],
            unit=data["unit"],
            guardrails=data.get("guardrails"),
            secondary=data.get("secondary"),
            segments=data.get("segments"),
            min_lift=data["min_lift"],
            ramp=data["ramp"],
            user=request.auth.label,
            **data["goal"],
        )
        return _out(experiment.pk, status.HTTP_201_CREATED)


class ExperimentView(APIView):
    @extend_schema(operation_id="get_experiment", responses=ExperimentOut, tags=["Experiments"])
    def get(self, request, pk):
        return Response(ExperimentOut(_experiment(request, pk)).data)

    @extend_schema(
        operation_id="update_draft",
        request=DraftIn,
        responses=ExperimentOut,
        tags=["Experiments"],
        description="Change a draft's settings; any left out keep their value. Refused (400) "
        "once the experiment has started.",
    )
    def patch(self, request, pk):
        experiment, serializer = _experiment(request, pk), DraftIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        experiment_update(
            experiment=experiment, user=request.auth.label, **serializer.settings_of(experiment)
        )
        return _out(pk)

    @extend_schema(
        operation_id="delete_draft",
        request=None,
        responses={204: None},
        tags=["Experiments"],
        description="Delete a draft and its variants. Refused (400) once it has started.",
    )
    def delete(self, request, pk):
        experiment_delete(experiment=_experiment(request, pk), user=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VariantsView(APIView):
    @extend_schema(
        operation_id="add_variant",
        request=VariantIn,
        responses={201: ExperimentOut},
        tags=["Experiments"],
        description="Add a variant to a draft; the traffic is then split evenly over all "
        "variants (whole percents adding up to 100), so the draft can start as it is.",
    )
    def post(self, request, pk):
        experiment, data = _experiment(request, pk), _valid(VariantIn, request)
        variant_add(
            experiment=experiment,
            name=data["name"],
            body=data.get("prompt"),
            config_overrides=data["config"],
            user=request.auth.label,
        )
        return _out(pk, status.HTTP_201_CREATED)


class WeightsView(APIView):
    @extend_schema(
        operation_id="set_weights", request=WeightsIn, responses=ExperimentOut, tags=["Experiments"]
    )
    def put(self, request, pk):
        experiment, data = _experiment(request, pk), _valid(WeightsIn, request)
        weights_set(
            experiment=experiment,
            weights=data["weights"],
            expected_version=data["expected_version"],
            user=request.auth.label,
        )
        return _out(pk)


class SegmentsView(APIView):
    @extend_schema(
        operation_id="keep_segments",
        request=SegmentsIn,
        responses=ExperimentOut,
        tags=["Experiments"],
        description="Which segments are kept up to date with the results, while drafting or "
        "running; a running experiment's results are recomputed at once. Refused (400) after "
        "the stop: its results are frozen.",
    )
    def put(self, request, pk):
        experiment, data = _experiment(request, pk), _valid(SegmentsIn, request)
        experiment_segments_keep(
            experiment=experiment, segments=data["segments"], user=request.auth.label
        )
        return _out(pk)


class StartView(APIView):
    @extend_schema(
        operation_id="start_experiment", request=None, responses=ExperimentOut, tags=["Experiments"]
    )
    def post(self, request, pk):
        experiment_start(experiment=_experiment(request, pk), user=request.auth.label)
        return _out(pk)


class StopView(APIView):
    @extend_schema(
        operation_id="stop_experiment", request=None, responses=ExperimentOut, tags=["Experiments"]
    )
    def post(self, request, pk):
        experiment_stop(experiment=_experiment(request, pk), user=request.auth.label)
        return _out(pk)


class ApplyView(APIView):
    @extend_schema(
        operation_id="apply_winner", request=ApplyIn, responses=ExperimentOut, tags=["Experiments"]
    )
    def post(self, request, pk):
        experiment, data = _experiment(request, pk), _valid(ApplyIn, request)
        winner_apply(
            experiment=experiment,
            variant_key=data["variant"],
            reason=data["reason"],
            user=request.auth.label,
        )
        return _out(pk)


class PauseView(APIView):
    @extend_schema(
        operation_id="pause_variant",
        request=PauseIn,
        responses=ExperimentOut,
        parameters=[VARIANT_KEY],
        tags=["Experiments"],
        description="Send a running variant's callers to the control, and only them; "
        "refused (400) for the control, a variant already paused or an experiment not running.",
    )
    def post(self, request, pk, key):
        experiment, data = _experiment(request, pk), _valid(PauseIn, request)
        variant_pause(
            experiment=experiment,
            variant_key=_variant_key(experiment, key),
            reason=data["reason"],
            user=request.auth.label,
            refuse_paused=True,
        )
        return _out(pk)


class ResumeView(APIView):
    @extend_schema(
        operation_id="resume_variant",
        request=None,
        responses=ExperimentOut,
        parameters=[VARIANT_KEY],
        tags=["Experiments"],
        description="Give a paused variant its weight back, taken from the control; refused "
        "(400) for a variant not paused, or when the control has less left than it had.",
    )
    def post(self, request, pk, key):
        experiment = _experiment(request, pk)
        variant_resume(
            experiment=experiment,
            variant_key=_variant_key(experiment, key),
            user=request.auth.label,
        )
        return _out(pk)


class VariantView(APIView):
    @extend_schema(
        operation_id="remove_variant",
        request=None,
        responses={200: ExperimentOut},
        parameters=[
            OpenApiParameter(
                "key", str, OpenApiParameter.PATH, description="The variant's key: b, c, ..."
            )
        ],
        tags=["Experiments"],
        description="Remove a variant from a draft, as the experiment page does; its share "
        "goes back (an even split stays even, otherwise the control takes it). Refused (400) "
        "for the control, a variant with reported calls, or an experiment that has started; "
        "404 for a key the experiment does not have. Answers the experiment with its new split.",
    )
    def delete(self, request, pk, key):
        experiment = _experiment(request, pk)
        variant_remove(
            experiment=experiment,
            variant_key=_variant_key(experiment, key),
            user=request.auth.label,
        )
        return _out(pk)
