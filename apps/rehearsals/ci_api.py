"""POST /api/v1/agents/{slug}/prompts with "evaluate": true — the prompt CI step.

Without "evaluate" it is the agents app's endpoint, unchanged (the new prompt becomes
current). With it, the candidate is saved without becoming current and rehearsed against
the current prompt; read the result at GET /api/v1/evaluations/{evaluation_id}.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.agents.api import AgentPromptsView, PromptIn, PromptVersionOut, _agent, _valid
from apps.rehearsals.services import prompt_evaluate


class PromptEvaluateIn(PromptIn):
    evaluate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Rehearse it against the current prompt instead of making it current; "
        "the answer carries evaluation_id.",
    )


class PromptEvaluatedOut(PromptVersionOut):
    evaluation_id = serializers.IntegerField(
        required=False, help_text="With evaluate: GET /api/v1/evaluations/{id} for the gate."
    )
    current = serializers.BooleanField(
        required=False, help_text="With evaluate: false, the candidate did not become current."
    )


class PromptsView(AgentPromptsView):
    @extend_schema(
        operation_id="create_prompt_version",
        request=PromptEvaluateIn,
        responses={201: PromptEvaluatedOut},
        tags=["Agents"],
    )
    def post(self, request, slug):
        agent = _agent(request, slug)
        data = _valid(PromptEvaluateIn, request)
        if not data["evaluate"]:
            return super().post(request, slug)
        version, evaluation = prompt_evaluate(
            agent=agent, body=data["prompt"], note=data["note"], user=request.auth.label
        )
        body = {**PromptVersionOut(version).data, "evaluation_id": evaluation.pk, "current": False}
        return Response(body, status=status.HTTP_201_CREATED)
