"""Client.report against the live Switchboard: batches, retries, the spool, nothing lost."""

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from apps.calls.models import Call
from tests.clients.helpers import call, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
CALLS = "/api/v1/calls"


def stored():
    return sorted(Call.objects.values_list("call_id", flat=True))


def ids(n, start=0):
    return sorted(f"call-{i:03d}" for i in range(start, start + n))


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_reports_go_in_batches(connect, door, agent):
    client = connect(batch_size=10)
    for call_id in ids(25):
        client.report(call(agent, call_id))
    client.flush()
    assert stored() == ids(25)
    assert [len(seen.json()) for seen in door.posts(CALLS)] == [10, 10, 5]


def test_reports_go_without_flush_when_a_batch_fills_or_the_interval_passes(connect, door, agent):
    by_size = connect(batch_size=5, flush_interval=60)
    by_time = connect(batch_size=100, flush_interval=0.2)
    for call_id in ids(5):
        by_size.report(call(agent, call_id))
    for call_id in ids(3, start=100):
        by_time.report(call(agent, call_id))
    wait_for(lambda: len(stored()) == 8)
    assert sorted(len(seen.json()) for seen in door.posts(CALLS)) == [3, 5]


def test_reports_from_many_threads_all_arrive_once(connect, door, agent):
    client = connect(batch_size=20, flush_interval=0.05)

    def router(thread):
        for call_id in ids(50, start=thread * 50):
            client.report(call(agent, call_id))

    threads = [threading.Thread(target=router, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.flush()
    assert stored() == ids(200)
    assert sum(len(seen.json()) for seen in door.posts(CALLS)) == 200  # none sent twice


def test_a_503_is_retried_after_the_servers_retry_after(connect, door, agent, tmp_path):
    door.fail_next, door.retry_after = 1, "1"
    client = connect(spool_path=tmp_path / "spool.jsonl")
    client.report(call(agent, "call-000"))
    client.flush()
    assert stored() == ["call-000"]
    first, second = door.posts(CALLS)
    assert second.at - first.at >= 0.95  # our own backoff alone would be 0.01 s
    assert lines(tmp_path / "spool.jsonl") == []


def test_while_switchboard_is_down_reports_are_spooled_then_sent_first(
    connect, door, agent, tmp_path
):
    spool = tmp_path / "spool.jsonl"
    client = connect(spool_path=spool)
    door.shut()
    for call_id in ids(7):
        client.report(call(agent, call_id))
    client.flush()
    assert [c["call_id"] for c in lines(spool)] == ids(7) and stored() == []
    door.open()
    for call_id in ids(3, start=7):
        client.report(call(agent, call_id))
    client.flush()
    assert stored() == ids(10) and lines(spool) == []
    assert [c["call_id"] for c in door.posts(CALLS)[0].json()] == ids(10)  # the backlog first


def test_nothing_is_lost_or_counted_twice_across_a_restart(connect, door, agent, tmp_path):
    spool = tmp_path / "spool.jsonl"
    before = connect(spool_path=spool)
    before.report(call(agent, "call-000"))
    before.flush()
    door.shut()
    for call_id in ids(6):  # call-000 again: a router re-sending after a lost answer
        before.report(call(agent, call_id))
    before.close()
    assert len(lines(spool)) == 6
    door.open()
    after = connect(spool_path=spool)
    after.flush()
    assert stored() == ids(6) and lines(spool) == []
    assert Call.objects.filter(call_id="call-000").count() == 1


def test_spooled_reports_survive_the_process_dying(door, agent, router_key, tmp_path, connect):
    spool = tmp_path / "spool.jsonl"
    door.shut()
    router = textwrap.dedent(f"""
        import os
        from switchboard_client import Client
        client = Client({door.url!r}, {router_key!r}, spool_path={str(spool)!r}, max_retries=0)
        for i in range(4):
            client.report({{**{call(agent, "x")!r}, "call_id": f"call-{{i:03d}}"}})
        client.flush()
        os._exit(9)  # no close(), no cleanup: as if killed
    """)
    assert subprocess.run([sys.executable, "-c", router], timeout=30).returncode == 9
    door.open()
    connect(spool_path=spool).flush()
    assert stored() == ids(4) and lines(spool) == []


def test_invalid_calls_are_set_aside_and_the_rest_delivered(connect, door, agent, tmp_path):
    spool = tmp_path / "spool.jsonl"
    client = connect(spool_path=spool)
    batch = [call(agent, call_id) for call_id in ids(5)]
    batch[1]["sentiment"] = 5
    batch[3]["variant"] = 999_999
    for report in batch:
        client.report(report)
    client.flush()
    assert stored() == ["call-000", "call-002", "call-004"] and lines(spool) == []
    rejected = lines(tmp_path / "spool.jsonl.rejected")
    assert [r["call"] for r in rejected] == [batch[1], batch[3]]
    assert rejected[0]["errors"] == {"sentiment": "Input should be less than or equal to 1"}
    wrong_variant = f"Variant 999999 is not a variant of “{agent.slug}”."
    assert rejected[1]["errors"] == {"variant": wrong_variant}
    # The server checks the shape, then the meaning: two refusals of one call each.
    assert [r["error"] for r in rejected] == ["1 call is not valid; nothing was saved."] * 2


def test_a_refused_key_keeps_the_calls_in_the_spool(connect, door, agent, tmp_path):
    spool = tmp_path / "spool.jsonl"
    client = connect(key="sb_not-a-key", spool_path=spool)
    client.report(call(agent, "call-000"))
    client.close()
    assert [c["call_id"] for c in lines(spool)] == ["call-000"] and stored() == []
    assert not (tmp_path / "spool.jsonl.rejected").exists()
    connect(spool_path=spool).flush()
    assert stored() == ["call-000"]


def test_a_batch_over_5_mb_is_sent_in_halves(connect, door, agent):
    long_talk = [{"speaker": "caller", "text": "blah " * 10_000, "start_seconds": 0}] * 60
    client = connect()
    for call_id in ids(2):
        client.report(call(agent, call_id, transcript=long_talk))  # 3 MB each
    client.flush()
    assert stored() == ids(2)
    assert [len(seen.json()) for seen in door.posts(CALLS)] == [2, 1, 1]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_report_with_a_number_json_cannot_hold_is_refused_at_once_and_the_rest_flow(
    connect, door, agent, bad
):
    """httpx refuses to encode NaN: queued, such a report failed every later flush for good."""
    client = connect(batch_size=10)
    with pytest.raises(ValueError, match="finite"):
        client.report(call(agent, "poison", duration_seconds=bad))
    with pytest.raises(ValueError, match="finite"):
        client.report(call(agent, "poison-in-fields", fields={"score": [1, {"x": bad}]}))
    for call_id in ids(5):
        client.report(call(agent, call_id))
    client.flush()
    assert stored() == ids(5) and client.undelivered() == 0


def test_a_call_with_nul_is_set_aside_and_the_good_ones_are_stored(connect, door, agent, tmp_path):
    """Issue 10, item 3: NUL was a 500, which the client took for an outage, so one poison call
    held every later call in the spool. Now it is a 400 naming the call, which is set aside."""
    spool = tmp_path / "spool.jsonl"
    client = connect(spool_path=spool)
    client.report(call(agent, "poison", caller="+1555\x00"))
    for call_id in ids(5):
        client.report(call(agent, call_id))
    client.flush()
    assert stored() == ids(5) and lines(spool) == [] and client.undelivered() == 0
    rejected = lines(tmp_path / "spool.jsonl.rejected")
    assert [r["call"]["call_id"] for r in rejected] == ["poison"]
    assert "NUL" in rejected[0]["errors"]["caller"]
