"""A TCP proxy on localhost that a test can cut, black-hole and restore, to take a service 'down'.

- `cut()`: refuse new connections and drop open ones, like a dead server (fails fast).
- `blackhole()`: accept connections and data but never forward or answer, and stop forwarding
  on the connections already open, like a hung server (a stopped process, a full disk, a
  network that swallows packets): only the client's own deadlines get it out.
- `restore()`: back to forwarding. Connections that were black-holed are dropped (their
  bytes were lost, so their protocol state is gone), as a server restarted would drop them.
"""

import contextlib
import socket
import threading


class Proxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.host, self.target_port = host, target_port
        self.port = self._free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._hung = False

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start(self) -> "Proxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and drop every open one, like a dead server."""
        with self._lock:
            listener, self._listener = self._listener, None
            self._hung = False
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        self._drop_connections()

    def blackhole(self) -> None:
        """Keep accepting connections and reading their bytes, but answer nothing."""
        if self._listener is None:
            self.start()
        with self._lock:
            self._hung = True

    def restore(self) -> None:
        """Forward again, whether the proxy was cut or black-holed."""
        with self._lock:
            was_hung, self._hung = self._hung, False
        if was_hung:
            self._drop_connections()
        if self._listener is None:
            self.start()

    def _drop_connections(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._hung:  # a hung server's kernel still completes the handshake
                with self._lock:
                    self._conns.append(client)
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _swallow(conn):
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                pass

    def _pipe(self, src, dst):
        try:
            while data := src.recv(65536):
                if not self._hung:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
