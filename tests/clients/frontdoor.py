"""A real HTTP server on 127.0.0.1 in front of the live Switchboard, for the client's tests.

It forwards every request and records it, and can be shut (connection refused), reopened on
the same port, slowed down, or made to answer 503 with Retry-After for the next requests: the
outages a router meets, played over real sockets.
"""

import http.client
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FORWARDED_HEADERS = ("Authorization", "Content-Type")


@dataclass(frozen=True)
class Seen:
    path: str
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body)


class FrontDoor:
    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.seen: list[Seen] = []
        self.delay = 0.0
        self.fail_next, self.retry_after = 0, "1"
        self.port = 0
        self._lock = threading.Lock()
        self._server = None
        self.open()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        self.closed = False
        handler = type("Handler", (_Forward,), {"door": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        server = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        server.start()

    def shut(self) -> None:
        """Stop listening: clients now get 'connection refused'. A request still held by
        `delay` is dropped, so it cannot reach the server after its test."""
        self.closed = True
        self._server.shutdown()
        self._server.server_close()

    def warm_up(self) -> None:
        """One request before the test: the live server's first one imports the whole site."""
        connection = http.client.HTTPConnection(*self.target, timeout=30)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        connection.close()

    def posts(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def take_failure(self) -> bool:
        with self._lock:
            if self.fail_next <= 0:
                return False
            self.fail_next -= 1
            return True

    def forward(self, handler: "_Forward", body: bytes) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection(*self.target, timeout=10)
        headers = {h: handler.headers[h] for h in FORWARDED_HEADERS if h in handler.headers}
        connection.request(handler.command, handler.path, body, headers)
        response = connection.getresponse()
        answer = (response.status, {"Content-Type": response.getheader("Content-Type")})
        data = response.read()
        connection.close()
        return *answer, data


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up waiting (a timeout test) is not an error here."""


class _Forward(BaseHTTPRequestHandler):
    door: FrontDoor

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.door.seen.append(Seen(self.path, body, time.monotonic()))
        time.sleep(self.door.delay)
        if self.door.closed:
            return None
        if self.door.take_failure():
            error = b'{"error": "Switchboard cannot reach its database right now."}'
            headers = {"Content-Type": "application/json", "Retry-After": self.door.retry_after}
            return self._answer(503, headers, error)
        return self._answer(*self.door.forward(self, body))

    def _answer(self, status: int, headers: dict, data: bytes) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass
