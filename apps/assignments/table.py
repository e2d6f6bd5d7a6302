"""The in-memory routing table the assignment endpoint answers from.

Built from PostgreSQL in a handful of queries; replaced whole (one reference swap) when the
change counter moves. A background thread per process checks the counter once a second, so a
request never waits on the database, and when the database is down the last table keeps
answering. Every answer is rendered to JSON bytes when the table is built.
"""

import atexit
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import Prefetch

from apps.accounts.authentication import Key, active_keys, bearer_digest, key_of
from apps.agents.models import Agent
from apps.assignments import bucketing, exposures
from apps.audit.services import change_counter_value
from apps.experiments.models import Experiment, Status, Variant

log = logging.getLogger(__name__)
SHARED_COPY = "assignments:routing-table"


@dataclass(frozen=True, slots=True)
class Arm:
    variant_id: int
    answer: bytes


@dataclass(frozen=True, slots=True)
class Route:
    agent_id: int
    default_answer: bytes
    experiment_id: int | None = None
    phase: int = 0
    salt: str = ""
    per_call: bool = False
    bounds: tuple[int, ...] = ()  # upper bucket bound of each range of the layout, ascending
    arms: tuple[Arm, ...] = ()  # the arm owning each range

    def arm_for(self, caller: str, call_id: str | None) -> Arm | None:
        if self.experiment_id is None:
            return None
        unit = call_id if self.per_call else caller
        return self.arms[bucketing.choose(bucketing.bucket(self.salt, unit), self.bounds)]


@dataclass(frozen=True)
class Table:
    counter: int
    routes: dict[str, Route] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)

    def key_for(self, authorization: str | None) -> Key | None:
        digest = bearer_digest(authorization)
        return None if digest is None else self.keys.get(digest)


def _answer(agent: Agent, version, config: dict, experiment=None, variant=None) -> bytes:
    return json.dumps(
        {
            "agent": agent.slug,
            "experiment": {"id": experiment.id, "name": experiment.name} if experiment else None,
            "variant": {"id": variant.id, "key": variant.key, "name": variant.name}
            if variant
            else None,
            "prompt": {"version": version.number, "sha256": version.sha256, "body": version.body},
            "config": config,
        },
        separators=(",", ":"),
    ).encode()


def _route(agent: Agent, experiment: Experiment | None) -> Route:
    default = _answer(agent, agent.current_version, agent.config)
    if experiment is None:
        return Route(agent_id=agent.id, default_answer=default)
    variants = list(experiment.variants.all())  # control, b, c...: the order of a fresh layout
    bounds, owners = bucketing.layout_bounds(_layout(experiment, variants))
    arms = {
        v.id: Arm(
            v.id,
            _answer(agent, v.prompt_version, {**agent.config, **v.config_overrides}, experiment, v),
        )
        for v in variants
        if v.weight > 0
    }
    return Route(
        agent_id=agent.id,
        default_answer=default,
        experiment_id=experiment.id,
        phase=experiment.weights_version,
        salt=experiment.salt,
        per_call=experiment.unit == "call",
        bounds=bounds,
        arms=tuple(arms[owner] for owner in owners),  # one per range, shared answers
    )


def _layout(experiment: Experiment, variants: list[Variant]) -> bucketing.Layout:
    weights = {v.id: v.weight for v in variants}
    if experiment.bucket_layout and not bucketing.fits(experiment.bucket_layout, weights):
        log.warning(
            "Experiment %s: its bucket layout does not match its weights; serving consecutive "
            "ranges of the weights instead",
            experiment.id,
        )
    return bucketing.current_layout(experiment.bucket_layout, weights)


def build() -> Table:
    """Read everything a router may ask about. The counter is read first, so a change that
    commits while we read makes the next check reload again rather than be missed."""
    counter = change_counter_value()
    variants = Variant.objects.select_related("prompt_version").order_by("-is_control", "key")
    running = {
        e.agent_id: e
        for e in Experiment.objects.filter(status=Status.RUNNING).prefetch_related(
            Prefetch("variants", queryset=variants)
        )
    }
    agents = Agent.objects.select_related("current_version").filter(current_version__isnull=False)
    routes = {a.slug: _route(a, running.get(a.id)) for a in agents}
    keys = {k.digest: key_of(k) for k in active_keys()}
    return Table(counter=counter, routes=routes, keys=keys)


class _State:
    table: Table | None = None
    lock = threading.Lock()
    thread_pid: int | None = None
    stop = threading.Event()


def current() -> Table:
    """The table to answer from. Only a cold process reads the database (or Redis) here."""
    table = _State.table
    if table is None:
        with _State.lock:
            if _State.table is None:
                _State.table = _cold_start()
            table = _State.table
        _start_refresher()
    return table


def refresh() -> bool:
    """Reload the table if the change counter moved. True when it reloaded."""
    if _State.table is not None and change_counter_value() == _State.table.counter:
        return False
    _State.table = _build_and_share()
    return True


def _build_and_share() -> Table:
    """Build from the database and leave a copy in Redis for processes that start later."""
    table = build()
    try:
        cache.set(SHARED_COPY, table, timeout=None)
    except Exception:
        log.warning("Could not leave a copy of the routing table in Redis", exc_info=True)
    return table


def _cold_start() -> Table:
    """A new process: the database if it answers, else the copy another process left."""
    try:
        return _build_and_share()
    except DatabaseError:
        connection.close()
        shared = cache.get(SHARED_COPY)
        if shared is None:
            raise
        log.warning("Database unreachable; answering from the routing table shared in Redis")
        return shared


def reset() -> None:
    """Forget the table and stop the refresher (tests; a process that forked after loading)."""
    _State.table = None
    _State.stop.set()
    _State.thread_pid = None


def _start_refresher() -> None:
    interval = settings.ASSIGNMENTS_REFRESH_SECONDS
    if interval <= 0 or _State.thread_pid == os.getpid():
        return
    _State.thread_pid = os.getpid()
    _State.stop = threading.Event()
    atexit.register(_flush_at_exit)
    threading.Thread(
        target=_refresh_forever, args=(interval, _State.stop), daemon=True, name="routing"
    ).start()


def _flush_at_exit() -> None:
    try:
        exposures.flush()
    except Exception:
        log.warning("Exposure counts not written at exit", exc_info=True)


def _refresh_forever(interval: float, stop: threading.Event) -> None:
    last_flush = time.monotonic()
    while not stop.wait(interval):
        try:
            refresh()
            if time.monotonic() - last_flush >= settings.ASSIGNMENTS_FLUSH_SECONDS:
                last_flush = time.monotonic()
                exposures.flush()
        except Exception:  # the database or Redis is away: keep answering from memory
            log.warning("Routing table refresh failed; still serving the last one", exc_info=True)
            connection.close()
    connection.close()  # stopped: give the thread's database connection back
