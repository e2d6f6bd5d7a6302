"""The JSON parser of every DRF endpoint: bounded in size and depth, finite, free of NUL.

DRF's own JSONParser accepts NaN and Infinity, lets a body nested 100,000 deep raise
RecursionError (a 500), and hands NUL to PostgreSQL, which refuses it (another 500). Here
each of those is a JSON 400 saying what to change, and a body over the limit is a 413.
"""

from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from config.inputs import MAX_JSON_BYTES, JSONRefused, loads_bounded


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The body is over {MAX_JSON_BYTES // (1024 * 1024)} MB; send less."
    default_code = "too_large"


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise BodyTooLarge()
        try:
            return loads_bounded(body)
        except JSONRefused as refused:
            raise exceptions.ParseError(str(refused)) from None
