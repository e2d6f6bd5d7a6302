"""A real chat-completions server on 127.0.0.1 for the judge's tests.

It speaks the OpenAI protocol over HTTP (``POST /v1/chat/completions``), records every
request (path, headers, JSON body) and answers from a queue of behaviours the test
programs; with the queue empty it answers "pass". Nothing in the client is mocked.

    with ChatServer() as server:
        server.answer("fail", "The agent never asked for the budget.")
        server.error(429, headers={"Retry-After": "3"})
        server.slow(5.0)
        ...  # point the client at server.url
        server.requests[0].body["model"]
"""

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict | None
    at: float = field(default_factory=time.monotonic)

    @property
    def response_format(self) -> str | None:
        return ((self.body or {}).get("response_format") or {}).get("type")

    @property
    def prompt(self) -> str:
        return "\n".join(m["content"] for m in (self.body or {}).get("messages", []))


@dataclass
class Behaviour:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str | None, model: str = "judge-test") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def _json(data) -> bytes:
    return json.dumps(data).encode()


class ChatServer:
    def __init__(self):
        self.requests: list[Request] = []
        self.json_schema_supported = True
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.chat = self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def __enter__(self) -> "ChatServer":
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # wakes slow answers
        self._httpd.shutdown()
        self._httpd.server_close()

    # What the next requests get, in order.

    def answer(self, verdict: str, reasoning: str = "Because of what was said.") -> None:
        self.content(json.dumps({"reasoning": reasoning, "verdict": verdict}))

    def content(self, content: str | None) -> None:
        self._push(Behaviour(200, _json(completion(content))))

    def error(
        self, status: int, message: str = "", *, code: str = "", headers: dict | None = None
    ) -> None:
        error = {"message": message or f"error {status}", "type": "test_error", "code": code}
        self._push(Behaviour(status, _json({"error": error}), headers or {}))

    def raw(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        self._push(Behaviour(status, body, {"Content-Type": content_type}))

    def slow(self, seconds: float, verdict: str = "pass") -> None:
        body = _json(completion(json.dumps({"reasoning": "Late.", "verdict": verdict})))
        self._push(Behaviour(200, body, delay=seconds))

    def _push(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._queue.append(behaviour)

    def _respond(self, request: Request) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            if request.path != "/v1/chat/completions":
                return Behaviour(404, _json({"error": {"message": "Unknown path"}}))
            if request.response_format == "json_schema" and not self.json_schema_supported:
                message = "response_format type json_schema is not supported by this server"
                error = {"message": message, "type": "invalid_request_error"}
                return Behaviour(400, _json({"error": {**error, "param": "response_format"}}))
            if self._queue:
                return self._queue.popleft()
        return Behaviour(
            200, _json(completion(json.dumps({"reasoning": "Fine.", "verdict": "pass"})))
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        chat: ChatServer = self.server.chat
        behaviour = chat._respond(Request(self.path, headers, body))
        if behaviour.delay and chat._stop.wait(behaviour.delay):
            return
        with contextlib.suppress(OSError):  # the client may have given up waiting
            self.send_response(behaviour.status)
            headers = {"Content-Type": "application/json", **behaviour.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(behaviour.body)))
            self.end_headers()
            self.wfile.write(behaviour.body)

    def log_message(self, format, *args):
        pass
