"""Where call reports wait while Switchboard is down: a JSON-lines file, fsync'd on every write,
so a report that reached the spool survives the process dying. Calls the server refused as
invalid go to `<spool>.rejected`, with the server's reasons, for a person to look at.

Without a path the spool is kept in memory: nothing is lost while the process lives.
"""

import fcntl
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("switchboard_client")


class MemorySpool:
    """A spool in memory, for clients given no spool path."""

    def __init__(self):
        self._calls: list[dict] = []

    def append(self, calls: list[dict]) -> None:
        self._calls.extend(calls)

    def read(self) -> list[dict]:
        return list(self._calls)

    def replace(self, calls: list[dict]) -> None:
        self._calls = list(calls)

    def has_calls(self) -> bool:
        return bool(self._calls)

    def reject(self, rejected: list[dict]) -> None:
        """Nowhere to keep them: the log line written by the caller is all that remains."""

    def close(self) -> None:
        pass


class FileSpool:
    """A spool file owned by one client at a time (an exclusive lock on `<spool>.lock`): two
    clients draining the same file could each rewrite it and drop what the other appended."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.path)
        self._end_last_line()

    def append(self, calls: list[dict]) -> None:
        _append_lines(self.path, calls)

    def read(self) -> list[dict]:
        """Every spooled call. A line cut short by a crash is moved to the rejected file."""
        if not self.path.exists():
            return []
        calls, broken = [], []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                calls.append(json.loads(line))
            except ValueError:
                broken.append({"line": line, "error": "Unreadable spool line."})
        if broken:
            log.error("%d unreadable lines of %s moved aside", len(broken), self.path)
            self.reject(broken)
        return calls

    def replace(self, calls: list[dict]) -> None:
        """Swap in a new content atomically: a crash leaves the old file or the new one."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.unlink(missing_ok=True)
        _append_lines(temporary, calls)
        os.replace(temporary, self.path)
        _fsync_directory(self.path.parent)

    def has_calls(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def reject(self, rejected: list[dict]) -> None:
        _append_lines(self.rejected_path, rejected)

    def close(self) -> None:
        self._lock.close()

    def _end_last_line(self) -> None:
        """A process that died mid-write may leave a line without its newline; end it, so the
        next append starts a line of its own instead of corrupting both."""
        if self.has_calls():
            with self.path.open("rb") as spool:
                spool.seek(-1, os.SEEK_END)
                if spool.read(1) != b"\n":
                    _append_text(self.path, "\n")


def _lock(path: Path):
    handle = path.with_name(path.name + ".lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"The spool {path} is in use by another Switchboard client; "
            "give each client (each process) a spool file of its own."
        ) from None
    return handle


def _append_lines(path: Path, items: list[dict]) -> None:
    _append_text(path, "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items))


def _append_text(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
