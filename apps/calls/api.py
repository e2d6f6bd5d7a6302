"""POST /api/v1/calls — routers report calls, one object or a list of up to 1,000."""

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import RouterKey
from apps.calls.schemas import MAX_BATCH, CallReport, ReportErrors, parse_reports
from apps.calls.services import calls_ingest

_counts = inline_serializer(
    "IngestResult",
    {
        "created": serializers.IntegerField(help_text="Calls seen for the first time."),
        "updated": serializers.IntegerField(help_text="Calls reported before, now updated."),
    },
)
_refusal = inline_serializer(
    "IngestRefusal",
    {
        "error": serializers.CharField(help_text="What is wrong, in a sentence."),
        "details": serializers.DictField(
            required=False, help_text='{"items": {index: {field: message}}}'
        ),
    },
)


class CallsView(APIView):
    permission_classes = [RouterKey]

    @extend_schema(
        operation_id="report_calls",
        summary="Report calls",
        description=(
            f"One call object or a JSON list of up to {MAX_BATCH:,}. Upserts by (agent, "
            "call_id): re-sending is harmless and a later report may add fields. The batch is "
            "checked whole; any invalid item refuses it all and nothing is written."
        ),
        request=CallReport,
        responses={
            200: _counts,
            400: OpenApiResponse(_refusal, description="Invalid items, per index."),
            413: OpenApiResponse(_refusal, description="Body over 5 MB."),
            503: OpenApiResponse(_refusal, description="Database unreachable; retry later."),
        },
        tags=["Routers"],
    )
    def post(self, request):
        try:
            body = request._request.body
        except RequestDataTooBig:
            return Response({"error": "The body is over 5 MB; send smaller batches."}, status=413)
        try:
            reports, _ = parse_reports(body)
            created, updated = calls_ingest(reports=reports, key=request.auth)
        except ReportErrors as refused:
            details = {"items": {str(i): e for i, e in refused.items.items()}}
            return Response({"error": refused.message, "details": details}, status=400)
        return Response({"created": created, "updated": updated})
