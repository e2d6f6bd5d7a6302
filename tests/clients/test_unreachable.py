"""The client with no Switchboard at all (a port where nothing listens): no database needed."""

import datetime as dt
import json

import pytest
from switchboard_client import Client, SwitchboardUnavailable

from tests.clients.helpers import free_port

FAST = {"max_retries": 1, "backoff": 0.01, "flush_interval": 60}


@pytest.fixture
def nowhere():
    return f"http://127.0.0.1:{free_port()}"


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_it_raises_when_nothing_is_known_of_the_agent(nowhere):
    client = Client(nowhere, "sb_key", **FAST)
    with pytest.raises(SwitchboardUnavailable, match="“front-desk”") as unavailable:
        client.assign("front-desk", "+15550100")
    client.close()
    assert "ConnectError" in str(unavailable.value)


def test_reports_wait_in_the_spool_as_plain_json(nowhere, tmp_path):
    spool = tmp_path / "spool.jsonl"
    started = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
    with Client(nowhere, "sb_key", spool_path=spool, **FAST) as client:
        client.report({"call_id": "call-1", "agent": "front-desk", "started_at": started})
        client.flush()
        assert client.undelivered() == 1
    assert lines(spool) == [
        {"call_id": "call-1", "agent": "front-desk", "started_at": "2026-11-22T10:00:00+00:00"}
    ]


def test_a_report_without_its_identity_is_refused_at_once(nowhere):
    with Client(nowhere, "sb_key", **FAST) as client:
        with pytest.raises(ValueError, match="call_id and agent"):
            client.report({"caller": "+15550100"})
        with pytest.raises(TypeError, match="set cannot go in a call report"):
            client.report({"call_id": "call-1", "agent": "front-desk", "fields": {"x": {1}}})
        assert client.undelivered() == 0


def test_two_clients_cannot_share_a_spool(nowhere, tmp_path):
    spool = tmp_path / "spool.jsonl"
    first = Client(nowhere, "sb_key", spool_path=spool, **FAST)
    with pytest.raises(RuntimeError, match="in use by another Switchboard client"):
        Client(nowhere, "sb_key", spool_path=spool, **FAST)
    first.close()
    Client(nowhere, "sb_key", spool_path=spool, **FAST).close()  # free again once closed


def test_a_line_torn_by_a_crash_is_set_aside_and_the_rest_kept(nowhere, tmp_path):
    spool = tmp_path / "spool.jsonl"
    spool.write_text('{"call_id": "call-1", "agent": "front-desk"}\n{"call_id": "call-2", "ag')
    with Client(nowhere, "sb_key", spool_path=spool, **FAST) as client:
        client.report({"call_id": "call-3", "agent": "front-desk"})
        client.flush()
    assert [c["call_id"] for c in lines(spool)] == ["call-1", "call-3"]
    rejected = lines(tmp_path / "spool.jsonl.rejected")
    assert rejected == [{"line": '{"call_id": "call-2", "ag', "error": "Unreadable spool line."}]
