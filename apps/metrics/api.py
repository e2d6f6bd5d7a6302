"""Management API for an agent's custom metrics (admin keys). Same services as the page."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope
from apps.agents.models import Agent
from apps.metrics.models import Aggregate, CustomMetric, FieldType
from apps.metrics.services import custom_metric_create, custom_metric_delete
from config.api import JsonInput

DIRECTIONS = ["higher", "lower"]


class MetricOut(serializers.Serializer):
    key = serializers.CharField(help_text="The metric's id: a goal's or guardrail's key.")
    name = serializers.CharField(help_text="Shown to people.")
    field = serializers.CharField(help_text="The post-call field (the call's `fields`) it reads.")
    type = serializers.CharField(help_text="boolean or number.")
    direction = serializers.CharField(help_text="higher or lower is better.")
    aggregate = serializers.CharField(help_text="rate (boolean); mean, p50 or p95 (number).")
    created_at = serializers.DateTimeField()


class MetricIn(JsonInput):
    key = serializers.CharField(
        max_length=32, help_text="Lower-case letters, digits, underscores; starts with a letter."
    )
    name = serializers.CharField(max_length=80, help_text="Shown to people.")
    field = serializers.CharField(
        max_length=64, help_text="The field's name in the calls' `fields`: letters, digits, _."
    )
    type = serializers.ChoiceField(FieldType.values, help_text="boolean or number.")
    direction = serializers.ChoiceField(DIRECTIONS, help_text="higher or lower is better.")
    aggregate = serializers.ChoiceField(
        Aggregate.values,
        required=False,
        help_text="boolean: rate (the default). number: mean (the default), p50 or p95.",
    )


def _agent(request, slug) -> Agent:
    return get_object_or_404(in_scope(request.auth, Agent.objects), slug=slug)


class MetricsView(APIView):
    @extend_schema(operation_id="list_metrics", responses=MetricOut(many=True), tags=["Metrics"])
    def get(self, request, slug):
        metrics = CustomMetric.objects.filter(agent=_agent(request, slug)).order_by("key")
        return Response(MetricOut(metrics, many=True).data)

    @extend_schema(
        operation_id="create_metric",
        request=MetricIn,
        responses={201: MetricOut},
        tags=["Metrics"],
    )
    def post(self, request, slug):
        agent = _agent(request, slug)
        serializer = MetricIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        metric = custom_metric_create(
            agent=agent, user=request.auth.label, **serializer.validated_data
        )
        return Response(MetricOut(metric).data, status=status.HTTP_201_CREATED)


class MetricView(APIView):
    @extend_schema(
        operation_id="delete_metric", request=None, responses={204: None}, tags=["Metrics"]
    )
    def delete(self, request, slug, key):
        metric = get_object_or_404(CustomMetric, agent=_agent(request, slug), key=key)
        custom_metric_delete(metric=metric, user=request.auth.label)
        return Response(status=status.HTTP_204_NO_CONTENT)
