from django.contrib import admin

from apps.judging.models import Criterion, HumanVerdict, Judgement
from config.admin import ReadOnlyAdmin


@admin.register(Criterion)
class CriterionAdmin(ReadOnlyAdmin):
    """Read-only: a new criterion must go through criterion_update, which re-judges calls."""

    list_display = ["experiment", "version", "created_at", "created_by"]
    search_fields = ["text", "experiment__name"]
    list_select_related = ["experiment", "created_by"]


@admin.register(Judgement)
class JudgementAdmin(ReadOnlyAdmin):
    list_display = ["call", "criterion", "model", "prompt_version", "verdict", "created_at"]
    list_filter = ["verdict", "model", "prompt_version"]
    search_fields = ["call__call_id", "reasoning", "error"]
    raw_id_fields = ["call", "criterion"]
    list_select_related = ["call__agent", "criterion__experiment"]


@admin.register(HumanVerdict)
class HumanVerdictAdmin(ReadOnlyAdmin):
    """Read-only: people give verdicts on the call page (human_verdict_set)."""

    list_display = ["call", "reviewer", "verdict", "updated_at"]
    list_filter = ["verdict"]
    raw_id_fields = ["call", "reviewer"]
    list_select_related = ["call__agent", "reviewer"]
