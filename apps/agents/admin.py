from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from apps.agents.models import Agent, PromptVersion
from apps.agents.services import _refuse_while_running, prompt_rollback
from config.admin import ReadOnlyAdmin


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = ["current_version"]

    def clean_current_version(self):
        version = self.cleaned_data["current_version"]
        if version is None or version.agent_id != self.instance.pk:
            raise ValidationError("Pick one of this agent's own prompt versions.")
        if version.pk != self.instance.current_version_id:
            _refuse_while_running(self.instance)  # the service's own rule, said on the form
        return version


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    """Only the current prompt can change here, and only through prompt_rollback: it refuses
    while an experiment runs, is audited, and reaches routers on their next refresh. Agents
    are created (with their first prompt) on the agent pages or through the API."""

    form = AgentAdminForm
    list_display = ["name", "slug", "current_version", "created_at"]
    search_fields = ["name", "slug"]
    raw_id_fields = ["current_version"]
    fields = ["name", "slug", "description", "config", "current_version", "created_at"]
    readonly_fields = ["name", "slug", "description", "config", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "current_version" not in form.changed_data:
            return
        try:
            prompt_rollback(
                agent=obj,
                version=form.cleaned_data["current_version"],
                user=request.user,
                reason="Changed in the admin",
            )
        except ValidationError as error:  # an experiment started since the form was checked
            messages.error(request, " ".join(error.messages))


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    """Read-only: versions are made by the pages and the API, never edited."""

    list_display = ["agent", "number", "sha256", "author", "created_at", "note"]
    list_filter = ["agent"]
    readonly_fields = [f.name for f in PromptVersion._meta.fields]
