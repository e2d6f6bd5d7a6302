"""Read any stored time, however far off, without an error.

Before ingestion bounded `started_at`, a router could store "9999-12-31T23:59:59-14:00",
which is year 10000 in UTC, or "0001-01-01T00:00:00+14:00", which is year 0. PostgreSQL keeps
both; Python's datetime cannot hold them, so psycopg raised DataError on every read of such a
call: its agent's calls list, CSV and call page, and any batch re-sending it, answered 500.
Here each connection reads a time beyond Python's range as the nearest time it can hold (a
day inside, so that showing it in any time zone still works). Only unreadable values change.
"""

from datetime import UTC, datetime

import psycopg
from psycopg import adapt, pq
from psycopg.postgres import types

TIMESTAMPTZ = types["timestamptz"].oid
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)


def _clamping(inner: type[adapt.Loader]) -> type[adapt.Loader]:
    class ClampingLoader(adapt.Loader):
        format = inner.format
        timezone = getattr(inner, "timezone", None)  # Django compares it per cursor
        clamps = True

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._inner = inner(oid, context)

        def load(self, data):
            try:
                return self._inner.load(data)
            except psycopg.DataError as error:  # "too large (after year 10K)" / "too small"
                value = EARLIEST if "too small" in str(error) else LATEST
                return value.replace(tzinfo=self.timezone)  # as Django's own loader does

    return ClampingLoader


def read_far_times(sender, connection, **kwargs) -> None:
    """connection_created receiver: wrap the connection's timestamptz loaders."""
    if connection.vendor != "postgresql":
        return
    adapters = connection.connection.adapters
    for fmt in (pq.Format.TEXT, pq.Format.BINARY):
        inner = adapters.get_loader(TIMESTAMPTZ, fmt)
        if inner is not None and not getattr(inner, "clamps", False):
            adapters.register_loader(TIMESTAMPTZ, _clamping(inner))
