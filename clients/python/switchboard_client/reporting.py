"""Call reports: queued, sent in batches, retried, spooled while Switchboard is down.

Delivery is at least once: the server stores a call once per (agent, call_id), so re-sending
a batch whose answer was lost is harmless, and losing one is what we must never do.
"""

import logging
import random
import threading
import time

import httpx

log = logging.getLogger("switchboard_client")


class Retry:
    """Exponential backoff with jitter; a server's Retry-After is waited at least."""

    def __init__(self, max_retries: int, backoff: float, max_backoff: float):
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff

    def wait(self, attempt: int, response: httpx.Response | None) -> float:
        step = self.backoff * 2**attempt
        jittered = step / 2 + random.uniform(0, step / 2)
        return min(max(jittered, _retry_after(response)), self.max_backoff)


class Reporter:
    """Queues calls and delivers them in batches from a background thread.

    A batch goes when `batch_size` calls are queued, every `flush_interval` seconds, and on
    flush(). Connection errors, timeouts, 429 and 5xx are retried; when retries run out the
    batch is appended to the spool, and while the spool holds calls new ones join its end, so
    calls keep their order and the backlog is sent first once Switchboard answers again.
    """

    def __init__(self, http, spool, retry: Retry, *, batch_size: int, flush_interval: float):
        self._http, self._spool, self._retry = http, spool, retry
        self._batch_size, self._flush_interval = batch_size, flush_interval
        self._queue: list[dict] = []
        self._queue_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="switchboard-reports", daemon=True)
        self._thread.start()

    def add(self, call: dict) -> None:
        with self._queue_lock:
            self._queue.append(call)
            full = len(self._queue) >= self._batch_size
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Send everything queued, after whatever the spool holds."""
        with self._send_lock:
            with self._queue_lock:
                calls, self._queue = self._queue, []
            try:
                self._send(calls)
            except BaseException:  # a full disk, a bug: keep the calls for the next flush
                with self._queue_lock:
                    self._queue[:0] = calls
                raise

    def undelivered(self) -> int:
        """Calls queued or spooled; waits for a send in progress to finish."""
        with self._send_lock, self._queue_lock:
            return len(self._queue) + len(self._spool.read())

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        try:
            self.flush()
        finally:
            self._spool.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the thread must outlive any surprise; flush() kept the calls
                log.exception("Sending call reports to Switchboard failed")

    def _send(self, calls: list[dict]) -> None:
        if self._spool.has_calls():  # Switchboard was down: keep the order, and keep them safe
            if calls:
                self._spool.append(calls)
            self._drain_spool()
            return
        for start in range(0, len(calls), self._batch_size):
            if not self._deliver(calls[start : start + self._batch_size]):
                self._spool.append(calls[start:])
                return

    def _drain_spool(self) -> None:
        calls = self._spool.read()
        for start in range(0, len(calls), self._batch_size):
            if not self._deliver(calls[start : start + self._batch_size]):
                self._spool.replace(calls[start:])
                return
        self._spool.replace([])
        log.info("Switchboard is back: %d spooled calls sent", len(calls))

    def _deliver(self, calls: list[dict]) -> bool:
        """True once Switchboard has the calls (or has refused some as invalid, which are set
        aside); False when they must wait in the spool."""
        if not calls:
            return True
        response = self._post(calls)
        if response is None:
            return False
        if response.is_success:
            return True
        if response.status_code == 413 and len(calls) > 1:
            half = len(calls) // 2
            return self._deliver(calls[:half]) and self._deliver(calls[half:])
        if response.status_code in (400, 413):
            return self._set_aside(calls, response)
        status, message = response.status_code, _error(response)
        log.error("Switchboard refused %d calls (HTTP %d: %s); kept", len(calls), status, message)
        return False

    def _post(self, calls: list[dict]) -> httpx.Response | None:
        """POST with retries; the last answer that should not be retried, or None."""
        for attempt in range(self._retry.max_retries + 1):
            response = None
            try:
                response = self._http.post("calls", json=calls)
                if not _retryable(response.status_code):
                    return response
                reason = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                reason = f"{type(error).__name__}: {error}"
            if attempt < self._retry.max_retries:
                wait = self._retry.wait(attempt, response)
                log.info("Reporting calls failed (%s); retrying in %.2f s", reason, wait)
                time.sleep(wait)
        log.warning("Switchboard is unreachable (%s); %d calls go to the spool", reason, len(calls))
        return None

    def _set_aside(self, calls: list[dict], response: httpx.Response) -> bool:
        """The server refuses a batch whole when any call is invalid: move the calls it named
        to the rejected file and send the others again."""
        details = _json(response).get("details")
        items = (details.get("items") if isinstance(details, dict) else None) or {}
        bad = {int(i) for i in items if str(i).isdigit() and int(i) < len(calls)}
        bad = bad or set(range(len(calls)))  # refused without naming calls: all of them
        message = _error(response)
        log.error("Switchboard refused %d of %d calls: %s %s", len(bad), len(calls), message, items)
        self._spool.reject(
            [{"error": message, "errors": items.get(str(i)), "call": calls[i]} for i in sorted(bad)]
        )
        return self._deliver([call for i, call in enumerate(calls) if i not in bad])


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _retry_after(response: httpx.Response | None) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0))) if response else 0.0
    except ValueError:  # an HTTP date: rare enough to use our own backoff instead
        return 0.0


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(response: httpx.Response) -> str:
    return _json(response).get("error") or response.reason_phrase
