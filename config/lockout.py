"""How a throttled login is answered, and whose address is counted (django-axes hooks)."""

import ipaddress
import math

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max, Q, Sum
from django.shortcuts import render
from django.utils import timezone

User = get_user_model()


def client_address(request) -> str | None:
    """The caller's address. Behind the proxy, the last X-Forwarded-For entry is the one our
    proxy appended (what it saw); anything before it was written by the client and is ignored.
    Something that is not an address there (a port, a word) counts as the proxy's own."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")


def username_of(request, credentials=None) -> str:
    """The name a login attempt is counted under: at most as long as a username can be. A
    longer one was a 500 (the attempts table holds 255 characters), so it was never counted."""
    field = settings.AXES_USERNAME_FORM_FIELD
    name = (credentials or {}).get(field) if credentials else request.POST.get(field)
    return str(name or "")[: User.username.field.max_length]


def lockout_response(request, original_response=None, credentials=None):
    """429 with a page saying what happened, what to do and when to try again (Retry-After)."""
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    last = AccessAttempt.objects.filter(
        Q(username=username) | Q(ip_address=request.axes_ip_address)
    ).aggregate(last=Max("attempt_time"))["last"]
    retry_at = (last or timezone.now()) + cool_off
    seconds = max(1, math.ceil((retry_at - timezone.now()).total_seconds()))
    limit = get_failure_limit(request, credentials)
    account_failures = (
        AccessAttempt.objects.filter(username=username).aggregate(n=Sum("failures_since_start"))[
            "n"
        ]
        if username
        else 0
    )
    context = {
        "username": username,
        # Which pause stopped this attempt: the account's, or this address's.
        "account_locked": (account_failures or 0) >= limit,
        "failure_limit": limit,
        "retry_at": retry_at,
        "minutes": math.ceil(seconds / 60),
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
