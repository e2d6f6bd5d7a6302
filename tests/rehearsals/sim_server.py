"""A real OpenAI-compatible chat-completions server on 127.0.0.1 that plays the agent, the
caller and the judge deterministically, routing each request by its system prompt.

- The judge (system prompt of apps.judging.prompt): "pass" when the transcript contains
  `judge_needs` (default "which date"), else "fail".
- The caller (system prompt of apps.rehearsals.simulate.CALLER_SYSTEM): asks to book, gives
  the "date" fact when asked for a date, then says goodbye with the end marker.
- The agent (any other system prompt, i.e. the prompt under test): greets; a prompt saying
  "ask for the date" asks "Which date would you like?" and then books the date the caller
  gave, repeating it; a prompt without it books "the next free slot" at once (the variant
  that forgets to ask). A prompt containing "[hang]" gets no answer for 30 s; "[garble]" gets
  a reply that is not a chat completion; "[refuse]" gets a 401.
- `script(role, *replies)`: the next requests of that role get these replies first, in order
  (a 429 with Retry-After, a 503, a hang...), then the role answers as above again.

Every request is recorded; `in_flight_max` is the most requests answered at once. Every
answer reports USAGE, the judge's `judge_usage`.
"""

import contextlib
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apps.judging.prompt import SYSTEM as JUDGE_SYSTEM
from apps.rehearsals.simulate import END_MARKER

USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}


def completion(content, usage=USAGE) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    return json.dumps({"object": "chat.completion", "choices": [choice], "usage": usage}).encode()


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an error status with its headers, or `delay` seconds of silence
    (longer than the client waits: a hang) before a completion."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @property
    def body(self) -> bytes:
        if self.status == 200:
            return completion("Too late.")
        return json.dumps({"error": {"message": f"Scripted {self.status}."}}).encode()


HANG = Reply(200, delay=30.0)


class SimServer:
    def __init__(self, delay: float = 0.0):
        self.requests: list[dict] = []
        self.judge_needs = "which date"
        self.judge_usage = USAGE
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.delay = delay
        self.in_flight = self.in_flight_max = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.sim = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def __enter__(self) -> "SimServer":
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def count(self, role: str) -> int:
        return sum(1 for r in self.requests if _role(r) == role)

    def script(self, role: str, *replies: Reply) -> None:
        """The next requests of `role` ("agent", "caller" or "judge") get `replies`."""
        with self._lock:
            self._scripts[role].extend(replies)

    def answer(self, body: dict) -> tuple[int, bytes, float, dict[str, str]]:
        role = _role(body)
        with self._lock:
            self.requests.append(body)
            scripted = self._scripts[role].popleft() if self._scripts[role] else None
        if scripted:
            return scripted.status, scripted.body, scripted.delay, scripted.headers
        return (*self._answer(role, body), {})

    def _answer(self, role: str, body: dict) -> tuple[int, bytes, float]:
        messages = body.get("messages") or []
        system = messages[0]["content"] if messages else ""
        if role == "judge":
            verdict = "pass" if self.judge_needs in messages[-1]["content"].lower() else "fail"
            said = json.dumps({"reasoning": "Scripted.", "verdict": verdict})
            return 200, completion(said, self.judge_usage), 0
        if role == "caller":
            return 200, completion(_caller(system, messages[1:])), self.delay
        if "[hang]" in system:
            return 200, completion("Too late."), 30.0
        if "[garble]" in system:
            return 200, b"<html>Bad gateway</html>", self.delay
        if "[refuse]" in system:
            return 401, json.dumps({"error": {"message": "Invalid API key"}}).encode(), 0
        return 200, completion(_agent(system, messages[1:])), self.delay


def _role(body: dict) -> str:
    messages = body.get("messages") or [{"content": ""}]
    system = messages[0]["content"]
    if system == JUDGE_SYSTEM:
        return "judge"
    return "caller" if system.startswith("You are playing a person") else "agent"


def _caller(system: str, history: list[dict]) -> str:
    last = history[-1]["content"].lower() if history else ""
    if "booked" in last:
        return f"Great, thank you. Goodbye. {END_MARKER}"
    if "date" in last:
        date = re.search(r"date: ([^;\n]+)", system)
        return f"{date.group(1) if date else 'Any day'}, please."
    return "Hi, I would like to book a cleaning."


def _agent(system: str, history: list[dict]) -> str:
    callers = [m["content"] for m in history if m["role"] == "user"]
    if not history or history[-1]["role"] != "user" or callers[-1].startswith("(The phone"):
        return "Hello, Smile Dental, how can I help?"
    asks = "ask for the date" in system.lower()
    if asks and not any("which date" in m["content"].lower() for m in history):
        return "Which date would you like?"
    if asks:
        return f"You are booked for {callers[-1].rstrip('.')}. Goodbye."
    return "You are booked for the next free slot. Goodbye."


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        sim: SimServer = self.server.sim
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with sim._lock:
            sim.in_flight += 1
            sim.in_flight_max = max(sim.in_flight_max, sim.in_flight)
        try:
            status, body, delay, headers = sim.answer(json.loads(raw))
            if delay and sim._stop.wait(delay):
                return
        finally:
            with sim._lock:
                sim.in_flight -= 1
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def wait_until_idle(server: SimServer, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while server.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)


def point_settings_at(settings, server: SimServer, timeout: float = 2.0) -> None:
    """Every simulation and judge setting pointed at `server` (pytest-django's `settings`)."""
    settings.SIMULATION_BASE_URL = settings.JUDGE_BASE_URL = server.url
    settings.SIMULATION_API_KEY = settings.JUDGE_API_KEY = ""
    settings.SIMULATION_MODEL = "agent-test"
    settings.SIMULATION_CALLER_MODEL = "caller-test"
    settings.JUDGE_MODEL = "judge-test"
    settings.SIMULATION_TIMEOUT_SECONDS = settings.JUDGE_TIMEOUT_SECONDS = timeout
