"""API for rehearsals (admin keys): an agent's scenarios, and an evaluation's results."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope
from apps.agents.models import Agent
from apps.rehearsals.models import Evaluation
from apps.rehearsals.outcomes import EvaluationResults
from apps.rehearsals.services import scenario_create
from config.api import JsonInput


class CheckSchema(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["judge", "fact", "forbidden"])
    criterion = serializers.CharField(required=False, help_text="For a judge check.")
    value = serializers.CharField(required=False, help_text="For a fact check.")
    text = serializers.CharField(required=False, help_text="For a forbidden phrase.")


class ScenarioIn(JsonInput):
    name = serializers.CharField(max_length=100, help_text="Unique per agent.")
    persona = serializers.CharField(help_text="Who the caller is and how they talk.")
    goal = serializers.CharField(help_text="What the caller wants.")
    facts = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="What the caller knows."
    )
    max_turns = serializers.IntegerField(required=False, help_text="2 to 60; default 12.")
    checks = CheckSchema(many=True, required=False, help_text="What the agent must do.")
    replay_turns = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Caller turns played verbatim; empty = a model plays the persona.",
    )


class ScenarioOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    persona = serializers.CharField()
    goal = serializers.CharField()
    facts = serializers.DictField(child=serializers.CharField())
    max_turns = serializers.IntegerField()
    checks = serializers.ListField(child=serializers.DictField())
    replay_turns = serializers.ListField(child=serializers.CharField())
    source_call = serializers.CharField(
        source="source_call.call_id",
        allow_null=True,
        default=None,
        help_text="The call it replays.",
    )


class ScenariosView(APIView):
    @extend_schema(
        operation_id="list_scenarios", responses=ScenarioOut(many=True), tags=["Rehearsals"]
    )
    def get(self, request, slug):
        scenarios = _agent(request, slug).scenarios.select_related("source_call")
        return Response(ScenarioOut(scenarios, many=True).data)

    @extend_schema(
        operation_id="create_scenario",
        request=ScenarioIn,
        responses={201: ScenarioOut},
        tags=["Rehearsals"],
    )
    def post(self, request, slug):
        agent = _agent(request, slug)
        if not isinstance(request.data, dict):
            return Response({"error": "Send one scenario as a JSON object."}, status=400)
        # The service validates every field (sizes, NUL, kinds of checks) in plain words.
        scenario = scenario_create(agent=agent, data=dict(request.data), user=request.auth.label)
        return Response(ScenarioOut(scenario).data, status=status.HTTP_201_CREATED)


class IntervalOut(serializers.Serializer):
    scenarios = serializers.IntegerField(help_text="Scenarios compared on both arms.")
    mean = serializers.FloatField(allow_null=True, help_text="Variant - control pass share.")
    lower = serializers.FloatField(allow_null=True)
    upper = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField()
    method = serializers.CharField()
    sign_flip_p = serializers.FloatField(allow_null=True)


class CheckRateOut(serializers.Serializer):
    label = serializers.CharField()
    arm = serializers.ChoiceField(choices=["control", "variant"])
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="No verdict: left out of the rate.")
    rate = serializers.FloatField(allow_null=True)


class ScenarioOutcomeOut(serializers.Serializer):
    scenario_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    control_share = serializers.FloatField(allow_null=True)
    variant_share = serializers.FloatField(allow_null=True)
    control_played = serializers.IntegerField()
    variant_played = serializers.IntegerField()
    errors = serializers.IntegerField()
    compared = serializers.BooleanField()


class EvaluationOut(serializers.Serializer):
    id = serializers.IntegerField()
    agent = serializers.CharField(source="agent.slug")
    status = serializers.CharField(help_text="queued, running, done, failed or stopped.")
    gate = serializers.CharField(help_text="passed, failed or running.")
    error = serializers.CharField(help_text="Why it failed or stopped; empty otherwise.")
    margin = serializers.FloatField(help_text="Largest drop allowed (0.05 = 5 points).")
    plays = serializers.IntegerField()
    cost_usd = serializers.FloatField()
    cost_cap_usd = serializers.FloatField()
    variant_sha256 = serializers.CharField()
    control_sha256 = serializers.CharField()
    interval = IntervalOut(allow_null=True)
    checks = CheckRateOut(many=True)
    scenarios = ScenarioOutcomeOut(many=True)

    def to_representation(self, evaluation):
        results = evaluation.results and EvaluationResults.from_json(evaluation.results)
        evaluation.interval = results.interval if results else None
        evaluation.checks = results.checks if results else []
        evaluation.scenarios = results.scenarios if results else []
        return super().to_representation(evaluation)


class EvaluationView(APIView):
    @extend_schema(operation_id="get_evaluation", responses=EvaluationOut, tags=["Rehearsals"])
    def get(self, request, pk):
        evaluations = in_scope(request.auth, Evaluation.objects.select_related("agent"), "agent_id")
        return Response(EvaluationOut(get_object_or_404(evaluations, pk=pk)).data)


def _agent(request, slug) -> Agent:
    return get_object_or_404(in_scope(request.auth, Agent.objects.all()), slug=slug)
