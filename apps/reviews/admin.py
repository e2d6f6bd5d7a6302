from django.contrib import admin

from apps.reviews.models import CallTag, PairVote
from config.admin import ReadOnlyAdmin


@admin.register(PairVote)
class PairVoteAdmin(ReadOnlyAdmin):
    """Read-only: votes are cast on the review page, which audits them."""

    list_display = ["experiment", "reviewer", "call_a", "call_b", "verdict", "updated_at"]
    list_filter = ["verdict"]
    search_fields = ["note", "reviewer__username"]
    list_select_related = ["experiment", "reviewer", "call_a__agent", "call_b__agent"]
    # An experiment may have a million calls: never render them as a <select>.
    raw_id_fields = ["experiment", "reviewer", "call_a", "call_b", "variant_a", "variant_b"]


@admin.register(CallTag)
class CallTagAdmin(ReadOnlyAdmin):
    list_display = ["tag", "call", "author", "created_at"]
    search_fields = ["tag", "author__username"]
    list_select_related = ["call__agent", "author"]
    raw_id_fields = ["call", "author"]
