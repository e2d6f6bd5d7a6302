"""Prompt CI/CD: rehearse a candidate prompt against the agent's current one.

prompt_evaluate(*, agent, body, user, note="") -> (PromptVersion, Evaluation)
    Saves the candidate as a version WITHOUT making it current (a regression must not reach
    callers), reusing an existing version with the same body, and queues its evaluation
    against the current prompt, both with the agent's configuration and margin. Used by
    POST /api/v1/agents/{slug}/prompts {"evaluate": true} and `manage.py evaluate`.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.agents.models import Agent, PromptVersion, prompt_sha256
from apps.agents.services import prompt_version_create
from apps.rehearsals.models import Evaluation
from apps.rehearsals.services.evaluations import evaluation_start


@transaction.atomic
def prompt_evaluate(
    *, agent: Agent, body: str, user=None, note: str = ""
) -> tuple[PromptVersion, Evaluation]:
    current = agent.current_version
    if current is None:
        raise ValidationError(f"{agent.name} has no current prompt to compare with.")
    text = body.strip() if isinstance(body, str) else ""
    if text == current.body:
        raise ValidationError({"prompt": "This is the current prompt already; change something."})
    version = agent.versions.filter(sha256=prompt_sha256(text)).first() if text else None
    if version is None:
        version = prompt_version_create(
            agent=agent, body=body, user=user, note=note or "Candidate (CI)", parent=current
        )
    config = dict(agent.config or {})
    evaluation = evaluation_start(
        agent=agent,
        variant_prompt=version,
        variant_config=config,
        control_prompt=current,
        control_config=config,
        margin=agent.rehearsal_margin,
        user=user,
    )
    return version, evaluation
