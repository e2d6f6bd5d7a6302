from django.core.paginator import Paginator
from django.shortcuts import render

from apps.audit.models import ACTION_WORDS, AuditEntry


def audit_log(request):
    entries = AuditEntry.objects.select_related("actor")
    action = request.GET.get("action", "")
    if action:
        entries = entries.filter(action=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    recorded = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    actions = [(value, ACTION_WORDS.get(value, value)) for value in recorded]
    return render(
        request, "audit/audit_log.html", {"page": page, "actions": actions, "action": action}
    )
