"""Management API for agents and their prompts (admin keys). Same services as the pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import in_scope, require_unscoped
from apps.agents.models import Agent, Digest
from apps.agents.selectors import agents_for_page
from apps.agents.services import agent_create, agent_digest_set, agent_prompt_update
from config.api import JsonInput


class PromptVersionOut(serializers.Serializer):
    version = serializers.IntegerField(source="number", help_text="v1, v2... as a number.")
    sha256 = serializers.CharField(help_text="SHA-256 of the body.")
    body = serializers.CharField(help_text="The prompt text.")
    note = serializers.CharField(help_text="Why this version was saved.")
    created_at = serializers.DateTimeField(help_text="When it was saved.")


DIGEST_HELP = (
    "How often a summary of the agent's running experiments goes to the alert webhook and "
    "email: “off”, “hourly” or “daily” (at DIGEST_HOUR)."
)


class AgentOut(serializers.Serializer):
    slug = serializers.SlugField(help_text="The agent's id in the API, e.g. “front-desk”.")
    name = serializers.CharField(help_text="Name shown to people.")
    description = serializers.CharField(help_text="What the agent does.")
    config = serializers.DictField(help_text="Default configuration (model, voice...).")
    prompt = PromptVersionOut(source="current_version", help_text="The current prompt.")
    digest = serializers.ChoiceField(choices=Digest.choices, help_text=DIGEST_HELP)


class AgentIn(JsonInput):
    name = serializers.CharField(max_length=100, help_text="Name shown to people.")
    slug = serializers.SlugField(
        max_length=100, required=False, help_text="Defaults to the name, slugified."
    )
    prompt = serializers.CharField(help_text="The first prompt; becomes version 1.")
    description = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="What the agent does."
    )
    config = serializers.DictField(
        required=False, default=dict, help_text="Default configuration (model, voice...)."
    )
    digest = serializers.ChoiceField(
        choices=Digest.choices, required=False, default=Digest.OFF, help_text=DIGEST_HELP
    )


class AgentChangeIn(JsonInput):
    digest = serializers.ChoiceField(choices=Digest.choices, help_text=DIGEST_HELP)


class PromptIn(JsonInput):
    prompt = serializers.CharField(help_text="The new prompt; becomes the current version.")
    note = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=300, help_text="Why it changed."
    )


class AgentsView(APIView):
    @extend_schema(operation_id="list_agents", responses=AgentOut(many=True), tags=["Agents"])
    def get(self, request):
        return Response(AgentOut(in_scope(request.auth, agents_for_page()), many=True).data)

    @extend_schema(
        operation_id="create_agent", request=AgentIn, responses={201: AgentOut}, tags=["Agents"]
    )
    def post(self, request):
        require_unscoped(request.auth)
        data = _valid(AgentIn, request)
        agent = agent_create(
            name=data["name"],
            slug=data.get("slug", ""),
            prompt=data["prompt"],
            description=data["description"],
            config=data["config"],
            digest=data["digest"],
            user=request.auth.label,
        )
        return Response(AgentOut(agent).data, status=status.HTTP_201_CREATED)


class AgentView(APIView):
    @extend_schema(operation_id="get_agent", responses=AgentOut, tags=["Agents"])
    def get(self, request, slug):
        return Response(AgentOut(_agent(request, slug)).data)

    @extend_schema(
        operation_id="change_agent", request=AgentChangeIn, responses=AgentOut, tags=["Agents"]
    )
    def patch(self, request, slug):
        agent = _agent(request, slug)
        data = _valid(AgentChangeIn, request)
        agent = agent_digest_set(agent=agent, digest=data["digest"], user=request.auth.label)
        return Response(AgentOut(agent).data)


class AgentPromptsView(APIView):
    @extend_schema(
        operation_id="create_prompt_version",
        request=PromptIn,
        responses={201: PromptVersionOut},
        tags=["Agents"],
    )
    def post(self, request, slug):
        agent = _agent(request, slug)
        data = _valid(PromptIn, request)
        version = agent_prompt_update(
            agent=agent, body=data["prompt"], note=data["note"], user=request.auth.label
        )
        return Response(PromptVersionOut(version).data, status=status.HTTP_201_CREATED)


def _agent(request, slug) -> Agent:
    return get_object_or_404(in_scope(request.auth, agents_for_page()), slug=slug)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
