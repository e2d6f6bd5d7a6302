from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render

from apps.audit.models import ACTION_WORDS, AuditEntry


def audit_log(request):
    action, who, query = (request.GET.get(k, "").strip() for k in ("action", "who", "q"))
    entries = AuditEntry.objects.select_related("actor")
    if action:
        entries = entries.filter(action=action)
    if who:
        entries = entries.filter(actor_label=who)
    if query:
        entries = entries.filter(Q(object_repr__icontains=query) | Q(reason__icontains=query))
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
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
