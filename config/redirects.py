"""The one way a page follows a `next=` it was given: only to this site.

Django's own login and logout views apply the same check; every other view that redirects
to an address from the request calls `safe_next`.
"""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback: str) -> str:
    """The `next` address posted (or in the query) when it stays on this site, else
    `fallback`. Over HTTPS an address that would drop to plain HTTP is refused too."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else fallback
