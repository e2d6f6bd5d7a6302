from django.contrib import admin

from apps.rehearsals.models import Conversation, Evaluation, GateOverride, NightlyCheck, Scenario
from config.admin import ReadOnlyAdmin


@admin.register(Scenario)
class ScenarioAdmin(ReadOnlyAdmin):
    """Read-only: scenarios are written on the agent's rehearsal pages, by JSONL or the API,
    whose services validate and audit them and keep their content hash (the cache's key)."""

    list_display = ["agent", "name", "max_turns", "created_at"]
    search_fields = ["name", "persona", "goal"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    """Read-only: an evaluation is a record of what was compared and what came out."""

    list_display = ["agent", "kind", "status", "gate", "cost_usd", "started_at"]
    list_filter = ["kind", "status", "gate"]


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["evaluation", "scenario", "arm", "play", "overall"]
    list_filter = ["arm", "overall"]


@admin.register(GateOverride)
class GateOverrideAdmin(ReadOnlyAdmin):
    """Read-only: a manager overrides on the experiment page, which audits the reason."""

    list_display = ["experiment", "created_at"]
    search_fields = ["reason"]


@admin.register(NightlyCheck)
class NightlyCheckAdmin(ReadOnlyAdmin):
    list_display = ["agent", "night"]
