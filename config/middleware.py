"""Refuse NUL before any view sees it.

PostgreSQL cannot store or compare text containing NUL (\\x00): a page filter such as
`?q=%00` reached a query and raised DataError, a 500. No person types NUL, so any request
whose path, query string or form data holds one is answered 400 here, once for every page.
JSON bodies are checked by their parsers (config/parsers.py, the call and assignment
endpoints), which can say which field is wrong.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from config.api import error_json
from config.inputs import NUL

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
