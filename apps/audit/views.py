from django.core.paginator import Paginator
from django.shortcuts import render

from apps.audit.models import ACTION_WORDS, AuditEntry
from apps.audit.selectors import audit_entries, entries_for_reader


def audit_log(request):
    action, who, query = (request.GET.get(k, "").strip() for k in ("action", "who", "q"))
    page = Paginator(audit_entries(action=action, who=who, query=query), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = entries_for_reader(page.object_list, request.user)
    recorded = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    people = AuditEntry.objects.order_by("actor_label").values_list("actor_label", flat=True)
    context = {
        "page": page,
        "action": action,
        "who": who,
        "q": query,
        "actions": [(value, ACTION_WORDS.get(value, value)) for value in recorded],
        "people": people.distinct(),
    }
    return render(request, "audit/audit_log.html", context)
