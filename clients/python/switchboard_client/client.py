"""The client a router uses: assign() at the start of a call, report() after it."""

import datetime as dt
import json
import logging
import os

import httpx

from switchboard_client.assignments import Assignment, AssignmentMemory
from switchboard_client.errors import SwitchboardError, SwitchboardUnavailable
from switchboard_client.reporting import Reporter, Retry
from switchboard_client.spool import FileSpool, MemorySpool

log = logging.getLogger("switchboard_client")
USER_AGENT = "switchboard-client/0.1"
MAX_BATCH = 1000  # the most calls Switchboard takes in one request


class _NoAnswer(Exception):
    """Switchboard did not answer usefully (down, slow, 5xx): fall back on memory."""


class Client:
    """Talks to one Switchboard for one router process. Thread-safe.

    `base_url` is the site's address (e.g. https://switchboard.example.com). `timeout` bounds
    each phase of an assignment request (connect, send, read), since a caller is waiting;
    reports are sent in the background with `report_timeout`. `spool_path` is a file of this
    process's own where reports wait while Switchboard is down; without it they wait in memory.
    `transport` is handed to httpx. Use it as a context manager, or call close() at exit so
    the last reports are sent.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 0.3,
        batch_size: int = 100,
        flush_interval: float = 2.0,
        spool_path: str | os.PathLike | None = None,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        report_timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}.")
        self.timeout = timeout
        spool = FileSpool(spool_path) if spool_path else MemorySpool()  # first: it may refuse
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT},
            timeout=report_timeout,
            transport=transport,
        )
        self._memory = AssignmentMemory()
        self._reporter = Reporter(
            self._http,
            spool,
            Retry(max_retries, backoff, max_backoff),
            batch_size=batch_size,
            flush_interval=flush_interval,
        )
        self._unreachable = False
        self._closed = False

    def assign(self, agent: str, caller: str, call_id: str | None = None) -> Assignment:
        """Which prompt (and variant) this call gets.

        When Switchboard is unreachable, slow or failing (5xx), answers from memory with
        `fallback=True`: the caller's last assignment, else the agent's current prompt with no
        variant. Raises SwitchboardUnavailable when nothing is known of the agent yet, and
        SwitchboardError when Switchboard refuses the request (4xx): that is a mistake to fix,
        never something to paper over with an old answer.
        """
        body = {"agent": agent, "caller": caller, **({"call_id": call_id} if call_id else {})}
        try:
            assignment = self._ask(body)
        except _NoAnswer as why:
            return self._fall_back(agent, caller, call_id, str(why))
        self._memory.remember(assignment, caller, call_id)
        if self._unreachable:
            log.info("Switchboard answers assignments again")
            self._unreachable = False
        return assignment

    def report(self, call: dict) -> None:
        """Queue one call report (the fields of POST /api/v1/calls); it is sent in a batch.

        Returns at once. Datetimes may be given as such (with a time zone). A report is safe
        from a crash once it reached Switchboard or the spool: at most `flush_interval`
        seconds after this call.
        """
        if self._closed:
            raise RuntimeError("This Switchboard client is closed.")
        missing = [name for name in ("call_id", "agent") if not call.get(name)]
        if missing:
            raise ValueError(f"A call report needs {' and '.join(missing)}.")
        try:  # JSON has no NaN or Infinity: refused here, it would stall every later batch
            text = json.dumps(call, default=_json_value, allow_nan=False)
        except ValueError as error:
            raise ValueError(f"A call report must hold finite numbers only ({error}).") from None
        self._reporter.add(json.loads(text))

    def flush(self) -> None:
        """Send every queued report now (after the spool's backlog); wait until done."""
        self._reporter.flush()

    def undelivered(self) -> int:
        """Reports not yet accepted by Switchboard: queued, or waiting in the spool."""
        return self._reporter.undelivered()

    def close(self) -> None:
        """Stop the background sender, send what is queued (or spool it), free the spool."""
        if self._closed:
            return
        self._closed = True
        try:
            self._reporter.close()
        finally:
            self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _ask(self, body: dict) -> Assignment:
        try:
            response = self._http.post("assignments", json=body, timeout=self.timeout)
        except httpx.TransportError as error:
            raise _NoAnswer(f"{type(error).__name__}: {error}") from error
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise SwitchboardError.from_response(response)
        if not response.is_success:
            raise _NoAnswer(f"HTTP {response.status_code}")
        try:
            return Assignment.from_answer(response.json())
        except (ValueError, KeyError, TypeError) as error:
            raise _NoAnswer(f"an answer that is not an assignment ({error})") from error

    def _fall_back(self, agent: str, caller: str, call_id: str | None, why: str) -> Assignment:
        if not self._unreachable:
            log.warning("Switchboard did not answer (%s); assigning from memory", why)
            self._unreachable = True
        assignment = self._memory.recall(agent, caller, call_id)
        if assignment is None:
            raise SwitchboardUnavailable(
                f"Switchboard did not answer ({why}), and this client has not seen a prompt "
                f"of the agent “{agent}” yet to fall back on."
            )
        return assignment


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot go in a call report; use JSON values.")
