"""How the API speaks errors: `{"error": "<sentence>", "details": ...}` with a fitting status.

A refused domain rule (Django's ValidationError from a service) is a 400 with the service's
own sentence; an unreachable database is a 503 with Retry-After, so routers retry later.
"""

import json
import logging

from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = "Switchboard cannot reach its database right now; nothing was saved. Retry soon."


def error_json(status_code: int, message: str, details=None, headers=None) -> HttpResponse:
    """A JSON error for plain Django views (the hot path does not use DRF)."""
    body = {"error": message} if details is None else {"error": message, "details": details}
    response = HttpResponse(json.dumps(body), status=status_code, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def database_down_json() -> HttpResponse:
    return error_json(503, DATABASE_DOWN, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _validation_details(error: ValidationError):
    if hasattr(error, "error_dict"):
        return {
            field: [str(m) for m in errs[0].messages]
            if len(errs) == 1
            else [m for e in errs for m in e.messages]
            for field, errs in error.error_dict.items()
        }
    return None


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        return Response(
            {"error": " ".join(exc.messages), "details": _validation_details(exc)},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        log.warning("Database unreachable during an API request: %s", exc)
        return Response(
            {"error": DATABASE_DOWN}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": "Some fields are not valid.", "details": response.data}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


def calls_accept_a_list(result, generator, request, public):
    """drf-spectacular hook: POST /api/v1/calls takes one call or a list of up to 1,000."""
    from apps.calls.schemas import MAX_BATCH

    body = result["paths"]["/api/v1/calls"]["post"]["requestBody"]["content"]["application/json"]
    one = body["schema"]
    body["schema"] = {
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": MAX_BATCH}]
    }
    return result
