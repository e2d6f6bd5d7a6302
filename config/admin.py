"""What the Django admin may do: mostly look. Changes go through the services (audited, seen by
routers); a model whose rows are written only by the pages, the API or jobs is read-only here."""

from django.contrib import admin, messages
from django.db import DataError, transaction
from django.shortcuts import redirect


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """A filter typed into the address (a time PostgreSQL cannot hold, year 99999) says so
        and shows the unfiltered list, instead of a 500."""
        try:
            with transaction.atomic():  # a refused query must not spoil the request's others
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render"):
                    response.render()  # the query runs while rendering: inside this block
            return response
        except (DataError, ValueError, OverflowError) as error:
            messages.error(request, f"That filter cannot be used ({error}); showing all rows.")
            return redirect(request.path)
