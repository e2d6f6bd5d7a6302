"""OpenAPI description of the assignment endpoint.

The endpoint is a plain Django view for speed; drf-spectacular documents views through their
`cls` attribute, so the view carries this DRF class, which exists only to be described.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from apps.accounts.authentication import ApiKeyAuthentication, RouterKey
from apps.assignments.views import assign


class AssignmentRequest(serializers.Serializer):
    agent = serializers.SlugField(help_text="The agent's slug, e.g. “front-desk”.")
    caller = serializers.CharField(
        max_length=256, help_text="The caller's id (phone number or CRM id); 1 to 256 characters."
    )
    call_id = serializers.CharField(
        max_length=256,
        required=False,
        allow_null=True,
        help_text="This call's id; needed when the experiment draws a variant per call "
        "(null or absent: none).",
    )


class _Ref(serializers.Serializer):
    id = serializers.IntegerField(help_text="Database id.")
    name = serializers.CharField(help_text="Name shown to people.")


class _VariantRef(_Ref):
    key = serializers.CharField(help_text="“control”, “b”, “c”...; report it back with the call.")


class _Prompt(serializers.Serializer):
    version = serializers.IntegerField(help_text="Prompt version number (v1, v2...).")
    sha256 = serializers.CharField(help_text="SHA-256 of the prompt body.")
    body = serializers.CharField(help_text="The prompt to use for this call.")


class AssignmentResponse(serializers.Serializer):
    agent = serializers.CharField(help_text="The agent's slug.")
    experiment = _Ref(allow_null=True, help_text="The running experiment, or null when none.")
    variant = _VariantRef(allow_null=True, help_text="The caller's variant, or null when none.")
    prompt = _Prompt(help_text="The prompt this caller gets.")
    config = serializers.DictField(
        help_text="Model, voice, temperature... with the variant's overrides applied."
    )


_error = inline_serializer("Error", {"error": serializers.CharField(help_text="What is wrong.")})


class AssignmentSchema(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [RouterKey]

    @extend_schema(
        operation_id="assign",
        summary="Which prompt does this caller get?",
        description=(
            "Call at the start of every call. Deterministic: the same caller (or call, for "
            "per-call experiments) gets the same variant while the split is unchanged. "
            "Answers from memory; keeps answering while the database is down."
        ),
        request=AssignmentRequest,
        responses={
            200: AssignmentResponse,
            400: OpenApiResponse(_error, description="Malformed JSON or a missing field."),
            401: OpenApiResponse(_error, description="No valid API key."),
            403: OpenApiResponse(_error, description="The key may not use this agent."),
            404: OpenApiResponse(_error, description="No such agent."),
        },
        examples=[
            OpenApiExample(
                "A caller", {"agent": "front-desk", "caller": "+15550100"}, request_only=True
            )
        ],
        tags=["Routers"],
    )
    def post(self, request):
        return assign(request._request)
