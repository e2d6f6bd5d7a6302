"""Request-wide middleware: NUL refused before any view sees it, and the site's own error
pages with DEBUG on (SitePagesWhenDebugMiddleware, below).

PostgreSQL cannot store or compare text containing NUL (\\x00): a page filter such as
`?q=%00` reached a query and raised DataError, a 500. No person types NUL, so any request
whose path, query string or form data holds one is answered 400 here, once for every page.
JSON bodies are checked by their parsers (config/parsers.py, the call and assignment
endpoints), which can say which field is wrong.
"""

import logging

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import Http404, HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, resolve

from config.api import error_json
from config.inputs import NUL

log = logging.getLogger("django.request")
REFUSAL = "The request contains a NUL character (%00); remove it and try again."


def _has_nul(query_dict) -> bool:
    return any(NUL in key or any(NUL in v for v in values) for key, values in query_dict.lists())


def _refuses(request) -> bool:
    if NUL in request.path or _has_nul(request.GET):
        return True
    # API bodies are JSON, checked by their parsers; reading one here as a form would use up
    # the stream the API view reads.
    if (
        request.method == "POST"
        and not request.path.startswith("/api/")
        and request.content_type
        in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    ):
        try:
            return _has_nul(request.POST)
        except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError):
            return False  # the view reading the form answers these as Django does
    return False


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _refuses(request):
            if request.path.startswith("/api/"):  # API clients read JSON errors
                return error_json(400, REFUSAL)
            if request.headers.get("HX-Request"):  # keep the page as it is; swap nothing
                return HttpResponseBadRequest(REFUSAL, headers={"HX-Reswap": "none"})
            return render(request, "400.html", {"message": REFUSAL}, status=400)
        return self.get_response(request)


class SitePagesWhenDebugMiddleware:
    """With DEBUG on (what `make run` uses), a missing page, a bad request or a failure shows
    the site's own 404, 400 and 500 pages rather than Django's debug pages, which speak to
    engineers; the API keeps its JSON. Engineers still get the traceback, in the server's log.

    Sits after CommonMiddleware, so that an address missing only its slash is still
    redirected. With DEBUG off, Django's own handlers (config.urls) already do this.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from config import urls  # the handlers config.urls names; it imports every app

        if settings.DEBUG and not request.path.startswith("/api/"):
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404 as error:
                return urls.page_not_found(request, error)
        return self.get_response(request)

    def process_exception(self, request, exception):
        from config import urls

        if not settings.DEBUG or request.path.startswith("/api/"):
            return None
        if isinstance(exception, Http404):
            return urls.page_not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return None  # Django answers it with the site's 403 page, DEBUG or not
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return render(request, "400.html", status=400)
        log.error("Internal Server Error: %s", request.path, exc_info=exception)
        return urls.server_error(request)
