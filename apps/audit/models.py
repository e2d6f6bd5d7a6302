from django.conf import settings
from django.db import models

ACTION_WORDS = {
    "agent.create": "created the agent",
    "metric.create": "added a metric from a call field",
    "metric.delete": "deleted a metric",
    "agent.digest": "changed how often the KPI digest is sent",
    "scenario.create": "wrote a rehearsal scenario",
    "scenario.update": "changed a rehearsal scenario",
    "scenario.delete": "deleted a rehearsal scenario",
    "evaluation.start": "started a rehearsal of a variant",
    "experiment.gate_override": "let a draft start without passing its rehearsal",
    "agent.rehearsal_margin": "changed how much worse a rehearsal may come out",
    "nightly.drop": "announced a drop in the nightly rehearsal",
    "prompt.update": "saved a new current prompt",
    "prompt.rollback": "rolled the prompt back",
    "experiment.create": "drafted the experiment",
    "apply_request.create": "asked a manager to apply a variant",
    "judging.judge": "changed the experiment's judge",
    "apply_request.decline": "declined a request to apply a variant",
    "apply_request.close": "closed a request to apply (the experiment was applied)",
    "experiment.update": "changed a draft's settings",
    "experiment.delete": "deleted a draft",
    "variant.remove": "removed a variant from a draft",
    "variant.fork": "added a variant",
    "variant.update_prompt": "edited a variant's prompt",
    "variant.update": "saved a variant",
    "experiment.weights": "changed the traffic split",
    "variant.pause": "paused a variant (guardrail)",
    "variant.resume": "resumed a paused variant",
    "experiment.start": "started the experiment",
    "experiment.stop": "stopped the experiment",
    "experiment.apply": "applied a winner",
    "judging.criterion": "changed the judge's criterion",
    "judging.pause": "paused judging",
    "judging.resume": "resumed judging",
    "review.vote": "voted on a pair of calls",
    "review.tag": "tagged a call",
    "review.untag": "removed a tag from a call",
    "api_key.create": "created an API key",
    "api_key.update": "changed an API key's name or agents",
    "api_key.revoke": "revoked an API key",
}


FIELD_WORDS = {
    "config": "configuration overrides",
    "description": "hypothesis",
    "goal_kind": "goal",
    "goal_direction": "better when",
    "goal_criteria": "judge's criterion",
    "min_lift": "smallest change worth detecting",
    "unit": "who gets which variant",
}


def in_words(value):
    """A value as a person reads it: empty ones as words, objects and lists as plain text;
    numbers and other text unchanged."""
    if value is None or value == {} or value == []:
        return "none"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key} {in_words(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(str(in_words(item)) for item in value)
    return value


class AuditEntry(models.Model):
    """One change to Switchboard's state: who did what to which object, before and after."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=200, help_text="Who, in words (a person or a key).")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor_label} {self.action} {self.object_repr}"

    @property
    def action_words(self) -> str:
        return ACTION_WORDS.get(self.action, self.action)

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for people to read: a field that did not change is left
        out, empty values are words, a side that does not name the field is None."""
        before, after = self.before or {}, self.after or {}
        keys = [
            key
            for key in dict.fromkeys([*before, *after])
            if not (key in before and key in after and before[key] == after[key])
        ]
        return [
            (
                FIELD_WORDS.get(key, key),
                in_words(before[key]) if key in before else None,
                in_words(after[key]) if key in after else None,
            )
            for key in keys
        ]


class ChangeCounter(models.Model):
    """One row whose value goes up with every audited change, in the same transaction.

    Processes that keep state in memory (the routers' assignment table) compare it with the
    value they loaded and reload when it moved; a committed change is never missed because
    the increment commits together with the change.
    """

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"change {self.value}"
