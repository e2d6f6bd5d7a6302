"""POST /api/v1/assignments — which prompt does this caller get?

`answer()` is the whole endpoint: check the key and pick the variant from the in-memory
table, count the exposure in memory, return the bytes rendered when the table was built.
Two doors lead to it: `fast.py` answers it before Django's middleware in production (the
router's path is sacred), and the Django view below serves the test client and anyone
mounting the URLconf alone.
"""

import json

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.assignments import exposures, table
from config.api import BODY_TOO_LARGE, DATABASE_DOWN, RETRY_AFTER_SECONDS, error_json
from config.inputs import JSONRefused, loads_bounded

MAX_UNIT_CHARS = 256
MAX_BODY_DEPTH = 4  # an assignment is one flat object; anything deeper is not one
Answer = tuple[int, bytes]


def _error(status: int, message: str) -> Answer:
    return status, json.dumps({"error": message}).encode()


def _parse(body: bytes) -> tuple[str, str, str | None] | str:
    """(agent, caller, call_id) from the request, or a sentence saying what is wrong."""
    try:
        data = loads_bounded(body, max_depth=MAX_BODY_DEPTH)
    except JSONRefused as refused:
        return str(refused)
    if not isinstance(data, dict):
        return 'Send a JSON object: {"agent": "...", "caller": "..."}.'
    agent, caller, call_id = data.get("agent"), data.get("caller"), data.get("call_id")
    if not isinstance(agent, str) or not agent:
        return "Say which agent: “agent” is the agent's slug."
    if not isinstance(caller, str) or not caller.strip():
        return "“caller” is missing or empty; send the caller's id (e.g. the phone number)."
    if len(caller) > MAX_UNIT_CHARS:
        return f"“caller” is longer than {MAX_UNIT_CHARS} characters."
    if call_id is not None and (
        not isinstance(call_id, str) or not call_id or len(call_id) > MAX_UNIT_CHARS
    ):
        return f"“call_id” must be a string of 1 to {MAX_UNIT_CHARS} characters."
    return agent, caller, call_id


def answer(authorization: str | None, body: bytes) -> Answer:
    try:
        routes = table.current()
    except Exception:  # a cold process whose database (and Redis copy) is away
        return _error(503, DATABASE_DOWN)
    key = routes.key_for(authorization)
    if key is None:
        return _error(401, "Send a valid API key as 'Authorization: Bearer <key>'.")
    parsed = _parse(body)
    if isinstance(parsed, str):
        return _error(400, parsed)
    slug, caller, call_id = parsed
    route = routes.routes.get(slug)
    if route is None or not key.allows(route.agent_id):  # a key never learns others' agents
        return _error(404, f"There is no agent “{slug}” (or it has no prompt yet).")
    if route.per_call and call_id is None:
        return _error(400, "This agent's experiment draws a variant per call: send call_id.")
    arm = route.arm_for(caller, call_id)
    if arm is None:
        return 200, route.default_answer
    exposures.count(route.experiment_id, arm.variant_id, route.phase)
    return 200, arm.answer


@csrf_exempt
@login_not_required
@require_POST
def assign(request):
    try:
        request_body = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: the schema's JSON 413
        return error_json(413, BODY_TOO_LARGE)
    status, body = answer(request.META.get("HTTP_AUTHORIZATION"), request_body)
    response = HttpResponse(body, status=status, content_type="application/json")
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
