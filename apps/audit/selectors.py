"""Reads of the audit log, with what each person may see of it."""

from django.db.models import Q

from apps.accounts.models import MANAGER
from apps.audit.models import AuditEntry

# Votes of a blind review stay blind: which call (so which variant) a reviewer preferred, and
# why, would unblind a pair for whoever reads it. The review page reveals a sample per person
# (once they voted on all its pairs) from state the log cannot see, so outside the page only
# managers, who run the reviews, read the votes themselves.
SEALED_ACTIONS = {"review.vote"}
SEALED = "hidden: votes show on the review page; managers see them here"


def audit_entries(*, action: str = "", who: str = "", query: str = ""):
    entries = AuditEntry.objects.select_related("actor")
    if action:
        entries = entries.filter(action=action)
    if who:
        entries = entries.filter(actor_label=who)
    if query:
        entries = entries.filter(Q(object_repr__icontains=query) | Q(reason__icontains=query))
    return entries


def entries_for_reader(entries, reader) -> list[AuditEntry]:
    """The entries as `reader` may read them: sealed details blanked for all but managers."""
    entries = list(entries)
    if reader.role == MANAGER:
        return entries
    for entry in entries:
        if entry.action in SEALED_ACTIONS:
            entry.before, entry.after, entry.reason = None, {"vote": SEALED}, ""
    return entries
