"""Django's PostgreSQL backend with every wait on the server bounded, on the client side.

A server-side `statement_timeout` cannot fire on a server that does not answer at all (a
stopped process, a frozen disk, a network that swallows packets), and the kernel of a hung
host still accepts connections and acknowledges bytes, so TCP timeouts do not fire either.
Here, psycopg's own waits get a deadline:

- connecting: the server is first asked (the probe below) within `OPTIONS["connect_timeout"]`
  seconds, fractions allowed, since libpq and psycopg wait at least 2 s; a server that hangs
  after answering the probe is then bounded by their 2 s;
- answering: a query that has had no answer for `OPTIONS["hang_check_after"]` seconds makes
  us ask the server whether it is alive, with a new TCP connection and an 8-byte SSLRequest
  that the postmaster answers at once when it is well. No answer within `PROBE_SECONDS`: the
  connection is closed and the query fails with OperationalError (an API request maps it to
  503). An answer: the query is merely slow, and we keep waiting; the server-side
  `statement_timeout` (in `OPTIONS["options"]`) bounds that.

This leans on psycopg 3.3's `Connection.wait(timeout=)` and its private `_WaitTimeout`
(requirements.lock pins psycopg; tests/test_outages.py shows it working).

After a hang is seen, new connections in this process fail at once for `OPEN_SECONDS`, then
are tried again after a probe: requests fail fast while the server is away, and the first
request after it returns reconnects, with no restart.
"""

import math
import socket
import struct
import threading
import time

import psycopg
from django.db.backends.postgresql import base
from psycopg import errors as pg_errors

PROBE_SECONDS = 0.5
OPEN_SECONDS = 2.0
SLICE_SECONDS = 0.1
SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class _Breaker:
    """Shared by the threads of a process: one notices a hung server, all stop waiting."""

    lock = threading.Lock()
    hung_at: float | None = None
    probing = threading.Lock()  # while a hung server may be back, one thread asks at a time

    @classmethod
    def trip(cls) -> None:
        with cls.lock:
            cls.hung_at = time.monotonic()

    @classmethod
    def since(cls) -> float | None:
        hung_at = cls.hung_at
        return None if hung_at is None else time.monotonic() - hung_at

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.hung_at = None


def server_answers(
    host: str | None, port: int | str | None, seconds: float = PROBE_SECONDS
) -> bool:
    """Does the postmaster answer an SSLRequest within `seconds`? (Its answer is one byte.)

    Only silence trips the breaker: a refused connection already fails fast by itself.
    Several hosts (failover lists) are not probed: psycopg's own timeout applies to them.
    """
    if "," in str(host or "") or "," in str(port or ""):
        return True
    try:
        if host and host.startswith("/"):  # a Unix socket directory
            probe = socket.socket(socket.AF_UNIX)
            address = f"{host}/.s.PGSQL.{port or 5432}"
        else:
            probe = socket.socket(socket.AF_INET6 if host and ":" in host else socket.AF_INET)
            address = (host or "localhost", int(port or 5432))
        with probe:
            probe.settimeout(seconds)
            probe.connect(address)
            probe.sendall(SSL_REQUEST)
            if probe.recv(1) in (b"S", b"N"):
                return True
    except TimeoutError:
        _Breaker.trip()
    except OSError:
        pass
    return False


class HungServer(psycopg.OperationalError):
    pass


class Connection(psycopg.Connection):
    """A psycopg connection whose waits for the server are bounded (see the module)."""

    hang_check_after: float | None = None

    @classmethod
    def connect(cls, conninfo: str = "", *, hang_check_after=None, **kwargs):
        host, port = kwargs.get("host"), kwargs.get("port")
        since = _Breaker.since()
        if since is not None:
            # The server hung moments ago: fail at once; after OPEN_SECONDS one thread at a
            # time asks it (briefly) whether it is back, the others fail at once meanwhile.
            if since < OPEN_SECONDS or not _Breaker.probing.acquire(blocking=False):
                raise HungServer("The database stopped answering moments ago; not trying yet.")
            try:
                if not server_answers(host, port):
                    raise HungServer(f"The database at {host}:{port} still does not answer.")
                _Breaker.reset()
            finally:
                _Breaker.probing.release()
        deadline = float(kwargs.get("connect_timeout") or 0)
        if deadline > 0:
            # libpq takes whole seconds, and psycopg waits at least 2: first ask the server
            # whether it answers at all, within our own (shorter) deadline.
            kwargs["connect_timeout"] = max(2, math.ceil(deadline))
            if deadline < 2 and not server_answers(host, port, deadline):
                raise HungServer(f"The database at {host}:{port} does not answer.")
        try:
            connection = super().connect(conninfo, **kwargs)
        except pg_errors.ConnectionTimeout:
            _Breaker.trip()
            raise
        connection.hang_check_after = hang_check_after
        return connection

    def wait(self, gen, interval=0.1, timeout=None):
        check_after = self.hang_check_after
        if timeout is not None or not check_after:
            return super().wait(gen, interval, timeout)
        started = time.monotonic()
        while True:
            try:
                return super().wait(gen, interval, SLICE_SECONDS)
            except pg_errors._WaitTimeout:
                # psycopg's generators resume where they were (a wake-up with nothing
                # ready is a no-op for them), so a slow query that is alive continues.
                waited = time.monotonic() - started
                since = _Breaker.since()
                if since is not None and since < waited:
                    self._give_up("another connection found the server hung meanwhile")
                if waited < check_after:
                    continue
                if server_answers(self.pgconn.host.decode(), self.pgconn.port.decode()):
                    started = time.monotonic()  # alive and slow: statement_timeout bounds it
                    continue
                self._give_up(
                    f"no answer within {check_after:.1f} s, none to a new connection either"
                )

    def _give_up(self, why: str):
        self.pgconn.finish()
        raise HungServer(f"The database does not answer ({why}): connection closed.") from None


class _Psycopg:
    """psycopg, as Django's backend sees it, with `connect` making our connections."""

    connect = staticmethod(Connection.connect)

    def __getattr__(self, name):
        return getattr(psycopg, name)


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Psycopg()

    # OPTIONS["hang_check_after"] reaches Connection.connect with the other parameters.
