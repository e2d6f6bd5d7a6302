"""Writes for agents and their prompts. Pages and the API both call these.

`user` is whoever acts: a person, or a string naming an API key or a job.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.agents.models import Agent, Digest, PromptVersion
from apps.audit.services import audit_record, person
from config.inputs import NUL, json_problem

MAX_PROMPT_CHARS = 100_000
MAX_CONFIG_DEPTH = 16


def refuse_nul(**texts) -> None:
    """PostgreSQL cannot store NUL; model validation (unlike forms) lets it through."""
    bad = {
        name: "Contains a NUL character (\\u0000); remove it."
        for name, text in texts.items()
        if isinstance(text, str) and NUL in text
    }
    if bad:
        raise ValidationError(bad)


def clean_config(config) -> dict:
    """A configuration JSON object PostgreSQL can store: no NUL, finite numbers, shallow."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValidationError({"config": "The configuration must be a JSON object."})
    problem = json_problem(config, max_depth=MAX_CONFIG_DEPTH)
    if problem:
        raise ValidationError({"config": problem})
    return config


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    refuse_nul(prompt=body)
    if not body:
        raise ValidationError({"prompt": "The prompt is empty; write what the agent should do."})
    if len(body) > MAX_PROMPT_CHARS:
        raise ValidationError(
            {
                "prompt": f"The prompt is {len(body):,} characters; "
                f"the limit is {MAX_PROMPT_CHARS:,}."
            }
        )
    return body


def agent_lock(agent_id) -> Agent:
    """The agent re-read under a row lock. Every write to an agent's prompt or experiments
    takes this lock first (then the experiment's), so writes on one agent queue in one order
    and each sees what the one before it committed."""
    return (
        Agent.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .get(pk=agent_id)
    )


def _refuse_while_running(agent: Agent) -> None:
    running = agent.experiments.filter(status="running").first()
    if running is not None:
        raise ValidationError(
            f"{agent.name} has a running experiment (“{running.name}”). Stop it before changing "
            "the current prompt, so that its control keeps meaning the current prompt."
        )


def prompt_version_create(
    *, agent: Agent, body: str, user=None, note: str = "", parent: PromptVersion | None = None
) -> PromptVersion:
    """Save a new immutable version of an agent's prompt (it does not become current)."""
    body = _clean_body(body)
    refuse_nul(note=note)
    # Lock the agent row so that two saves at once get numbers n+1 and n+2, not both n+1.
    agent_lock(agent.pk)
    last = agent.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = PromptVersion(
        agent=agent,
        number=last + 1,
        body=body,
        author=person(user),
        note=note[:300],
        parent=parent,
    )
    version.full_clean(exclude=["sha256"])
    version.save()
    return version


@transaction.atomic
def agent_create(
    *,
    name: str,
    prompt: str,
    user=None,
    slug: str = "",
    description: str = "",
    config: dict | None = None,
    digest: str = Digest.OFF,
) -> Agent:
    """Create an agent whose prompt becomes version 1 and its current prompt."""
    name = (name or "").strip()
    slug = (slug or slugify(name)).strip()
    refuse_nul(name=name, slug=slug, description=description)
    agent = Agent(name=name, slug=slug, description=description, config=clean_config(config))
    agent.full_clean(exclude=["current_version"], validate_unique=False)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        raise ValidationError({"slug": f"An agent with the address “{slug}” exists."}) from None
    version = prompt_version_create(agent=agent, body=prompt, user=user, note="First version")
    agent.current_version = version
    agent.save(update_fields=["current_version"])
    audit_record(
        actor=user,
        action="agent.create",
        obj=agent,
        after={"slug": agent.slug, "version": version.number},
    )
    if digest != Digest.OFF:
        agent = agent_digest_set(agent=agent, digest=digest, user=user)
    return agent


@transaction.atomic
def agent_prompt_update(*, agent: Agent, body: str, user=None, note: str = ""):
    """Save a new version of the agent's prompt and make it current."""
    agent = agent_lock(agent.pk)
    _refuse_while_running(agent)
    current = agent.current_version
    if current is not None and current.body == (body or "").strip():
        raise ValidationError({"prompt": "This is the current prompt already; change something."})
    version = prompt_version_create(agent=agent, body=body, user=user, note=note, parent=current)
    agent.current_version = version
    agent.save(update_fields=["current_version"])
    audit_record(
        actor=user,
        action="prompt.update",
        obj=agent,
        before={"version": current.number if current else None},
        after={"version": version.number},
        reason=note,
    )
    return version


@transaction.atomic
def prompt_rollback(*, agent: Agent, version: PromptVersion, user=None, reason: str = "") -> Agent:
    """Make an earlier version the agent's current prompt again."""
    agent = agent_lock(agent.pk)
    if version.agent_id != agent.pk:
        raise ValidationError("That prompt version belongs to another agent.")
    if agent.current_version_id == version.pk:
        raise ValidationError(f"{version.label} is the current prompt already.")
    _refuse_while_running(agent)
    before = agent.current_version
    agent.current_version = version
    agent.save(update_fields=["current_version"])
    audit_record(
        actor=user,
        action="prompt.rollback",
        obj=agent,
        before={"version": before.number if before else None},
        after={"version": version.number},
        reason=reason,
    )
    return agent


DIGEST_CHOICES_SAID = "Choose how often the digest is sent: “off”, “hourly” or “daily”."


@transaction.atomic
def agent_digest_set(*, agent: Agent, digest: str, user=None) -> Agent:
    """Turn the agent's KPI digest off, or send it hourly or daily. The first one comes at
    the start of the next period (apps/results/digest.py), so turning it on never sends one
    at once, and pauses before that are not reported."""
    if digest not in Digest.values:
        raise ValidationError({"digest": DIGEST_CHOICES_SAID})
    agent = agent_lock(agent.pk)
    if agent.digest == digest:
        return agent
    before = agent.digest
    agent.digest = digest
    agent.digest_sent_at = timezone.now()
    agent.save(update_fields=["digest", "digest_sent_at"])
    audit_record(
        actor=user,
        action="agent.digest",
        obj=agent,
        before={"digest": before},
        after={"digest": digest},
    )
    return agent
