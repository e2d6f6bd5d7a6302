"""How the API speaks errors: `{"error": "<sentence>", "details": ...}` with a fitting status.

A refused domain rule (Django's ValidationError from a service) is a 400 with the service's
own sentence; an unreachable database is a 503 with Retry-After, so routers retry later.
"""

import json
import logging
import re
from collections.abc import Mapping

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = "Switchboard cannot reach its database right now; nothing was saved. Retry soon."
BODY_TOO_LARGE = "The body is over 5 MB; send less."


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
    if isinstance(exc, RequestDataTooBig):  # Django refuses to read a body over its limit
        return Response({"error": BODY_TOO_LARGE}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
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


# What any operation of the API may answer besides its own success, and when. Documented
# here once, from what each view is (its permission, its path, whether it reads a body), so
# that no operation can forget one (schemathesis checks every status against the schema).
ERRORS = {
    "400": "The body is not valid JSON, a field or parameter is not valid (a NUL anywhere in "
    "the request), or a rule refused the change; `error` says what to fix.",
    "401": "No API key, or one that is unknown or was revoked.",
    "403": "A router key where an admin key is needed, or a key limited to some agents "
    "doing what concerns them all.",
    "404": "No such agent or experiment, or one outside the agents this key may use.",
    "413": "The body is over 5 MB.",
    "415": "The body is not JSON (send Content-Type: application/json).",
    "503": "The database is unreachable; nothing was saved. Retry after Retry-After seconds.",
}
READS_RAW_BODY = {"assign", "report_calls"}  # they parse bytes themselves, whatever the type
LOOKS_UP_BY_BODY = {"create_experiment"}  # the agent named in the body may not exist


def _error_statuses(path: str, method: str, operation: dict, admin_only: bool) -> list[str]:
    # 400 everywhere: a NUL in the address or query is refused before any view (config/middleware).
    codes = ["400", "401", "503"]
    if "requestBody" in operation:
        codes.append("413")
        if operation["operationId"] not in READS_RAW_BODY:
            codes.append("415")
    if admin_only:
        codes.append("403")
    if "{" in path or operation["operationId"] in LOOKS_UP_BY_BODY:
        codes.append("404")
    return codes


def document_errors(result, generator, request, public):
    """drf-spectacular hook: every operation documents every error status it can answer."""
    from apps.accounts.authentication import AdminKey

    admin = {  # paths compared without parameter names: the schema calls `pk` `id`
        (re.sub(r"{\w+}", "{}", path), method.lower())
        for path, _, method, view in generator.endpoints
        if AdminKey in getattr(view.cls, "permission_classes", ())
    }
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ApiError"] = {
        "type": "object",
        "properties": {
            "error": {"type": "string", "description": "What is wrong, in a sentence."},
            "details": {"description": "Per field (or per item) messages, when there are some."},
        },
        "required": ["error"],
    }
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            admin_only = (re.sub(r"{\w+}", "{}", path), method) in admin
            for code in _error_statuses(path, method, operation, admin_only):
                operation["responses"].setdefault(
                    code, {"description": ERRORS[code], "content": body}
                )
            if "503" in operation["responses"]:
                operation["responses"]["503"].setdefault("headers", {})["Retry-After"] = {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before retrying.",
                }
    return result


# JSON types of DRF fields, as the schema states them. DRF itself turns 0 into "0" for a text
# field and "5" into 5 for a number; the schema promises neither, so neither is accepted.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int, float), "a whole number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.CharField, (str,), "a string"),
)


def _wrong_type(field, value) -> str | None:
    for kind, types, words in _JSON_TYPES:
        if isinstance(field, kind):
            fits = isinstance(value, types) and (
                kind is serializers.BooleanField or not isinstance(value, bool)
            )
            if fits and kind is serializers.IntegerField and isinstance(value, float):
                fits = value.is_integer()
            return None if fits else f"Must be {words}."
    return None


class JsonInput(serializers.Serializer):
    """An API input read with JSON's types: a field documented as a string takes a string."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            wrong = {}
            for name, field in self.fields.items():
                value = data.get(field.field_name)
                if field.read_only or value is None:
                    continue  # absent or null: DRF's own required/allow_null rules answer
                problem = _wrong_type(field, value)
                if problem:
                    wrong[name] = [problem]
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


@csrf_exempt
@login_not_required  # API clients carry keys, not sessions: never the login page
def not_found(request, *args, **kwargs):
    """Any address under /api/v1/ that names no operation: JSON, like every other answer."""
    return error_json(404, "There is no such address in the API; see /api/docs/.")
