"""The demo reads like real calls of each agent: turns in order, each agent in its own words,
outcomes and judge verdicts that match what was said, and the numbers the README gives."""

import itertools
import json
import random
import re
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from apps.calls.models import Call
from apps.demo import conversations
from apps.demo.management.commands import simulate_traffic
from apps.experiments.models import Experiment
from apps.judging.models import Judgement

README = Path(__file__).resolve().parents[2] / "README.md"

# What each agent's calls talk about, and what they never do: another agent's business.
OWN_WORDS = {
    "front-desk": ["Harbor Dental", "slot"],
    "collections": ["Northwind Energy", "bill"],
    "sales-outbound": ["Lumen POS", "till"],
}
FOREIGN = {
    "front-desk": ["Northwind", "Lumen", "bill", "till", "payment", "demo"],
    "collections": ["Harbor", "Lumen", "appointment", "booked", "till", "demo", "tooth"],
    "sales-outbound": ["Harbor", "Northwind", "appointment", "tooth", "bill", "payment plan"],
}
# The words that say a call converted, per agent: booked, a payment plan, a demo.
CONVERTED_WHEN = {
    "front-desk": "You're booked for",
    "collections": "Done: the first payment",
    "sales-outbound": "I'll send you an invite",
}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo, seeded once for this module's tests (and removed after them)."""
    with django_db_blocker.unblock():
        from django.db import connection, transaction

        with transaction.atomic():
            call_command("seed_demo", stdout=StringIO())
            calls = list(Call.objects.select_related("agent", "variant"))
            judgements = list(Judgement.objects.select_related("call__variant"))
            experiments = {e.name: e for e in Experiment.objects.all()}
            readme_count = Call.objects.count()
            transaction.set_rollback(True)
        connection.close()  # opened outside any test: leave no session behind
    return SimpleNamespace(
        calls=calls, judgements=judgements, experiments=experiments, count=readme_count
    )


def text_of(call, speaker=None):
    return " ".join(t["text"] for t in call.transcript if speaker in (None, t["speaker"]))


def test_the_readme_gives_the_number_of_calls_make_run_seeds(demo):
    sentence = re.search(r"three agents, experiments and\s+([\d,]+) calls", README.read_text())
    assert sentence, "README.md no longer says how many calls the demo has"
    assert int(sentence.group(1).replace(",", "")) == demo.count == 1_500


def test_every_transcript_is_in_order_turn_by_turn(demo):
    for call in demo.calls:
        starts = [t["start_seconds"] for t in call.transcript]
        speakers = [t["speaker"] for t in call.transcript]
        assert starts == sorted(starts) and len(set(starts)) == len(starts), call.call_id
        assert starts[0] == 0 and call.duration_seconds > starts[-1]
        assert speakers[0] == "agent"
        assert all(a != b for a, b in itertools.pairwise(speakers)), call.call_id


def test_each_agents_calls_are_in_its_own_words(demo):
    by_agent = {}
    for call in demo.calls:
        by_agent.setdefault(call.agent.slug, []).append(call)
    assert set(by_agent) == set(OWN_WORDS)
    for slug, calls in by_agent.items():
        for call in calls:
            text = text_of(call)
            assert any(word in text for word in OWN_WORDS[slug]), (slug, text)
            assert not [w for w in FOREIGN[slug] if w.lower() in text.lower()], (slug, text)


def test_outcomes_are_what_the_words_say(demo):
    for call in demo.calls:
        said = CONVERTED_WHEN[call.agent.slug] in text_of(call, "agent")
        assert call.converted == said, (call.call_id, text_of(call))
        assert call.transferred == ("put you through" in text_of(call, "agent")), call.call_id
    rates = {}
    for call in demo.calls:
        if call.agent.slug == "front-desk":
            rates.setdefault(call.variant.key, []).append(call.converted)
    assert 0.1 < sum(rates["control"]) / len(rates["control"]) < sum(rates["b"]) / len(rates["b"])


def test_the_warm_variant_thanks_callers_and_the_control_does_not(demo):
    for call in demo.calls:
        if call.agent.slug == "front-desk":
            thanks = "Thank you so much for calling" in call.transcript[0]["text"]
            assert thanks == (call.variant.key == "b")


def test_judge_verdicts_match_the_transcripts(demo):
    assert len(demo.judgements) == 400
    for judgement in demo.judgements:
        call = judgement.call
        asked = text_of(call, "agent").lower()
        if judgement.verdict == "pass":
            assert "budget" in asked and "switch" in asked, text_of(call)
            answers = text_of(call, "caller").lower()
            assert any(b.lower() in answers for b in conversations.BUDGETS), text_of(call)
            assert any(w.split(",")[0].lower() in answers for w in conversations.WHEN)
        elif judgement.verdict == "fail":
            assert "budget" not in asked, text_of(call)
        else:
            assert "call me back" in text_of(call, "caller") and not call.completed
            assert not call.converted and len(call.transcript) == 3
    passed = {"control": [], "b": []}
    for judgement in demo.judgements:
        passed[judgement.call.variant.key].append(judgement.verdict == "pass")
    assert sum(passed["control"]) < sum(passed["b"])


def test_calls_happen_while_their_experiment_ran(demo):
    warm, budget = demo.experiments["Warmer greeting"], demo.experiments["Budget question early"]
    for experiment in (warm, budget):
        assert experiment.phases[0]["started_at"] == experiment.started_at.isoformat()
        for call in (c for c in demo.calls if c.experiment_id == experiment.pk):
            assert experiment.started_at <= call.started_at
            assert experiment.stopped_at is None or call.started_at <= experiment.stopped_at


@pytest.mark.django_db
def test_seeding_twice_adds_nothing():
    call_command("seed_demo", stdout=StringIO())
    count = Call.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert Call.objects.count() == count


@pytest.mark.parametrize("slug", ["front-desk", "collections", "sales-outbound", "pizza-line"])
def test_simulated_calls_speak_for_the_agent_they_call(slug):
    rng = random.Random(5)
    for n in range(60):
        assignment = SimpleNamespace(
            agent=slug, variant_id=None, experiment_id=None, variant_key="b", fallback=False
        )
        report = simulate_traffic._call(rng, assignment, f"+1555000{n:04d}", f"c{n}", 0.5, None)
        text = " ".join(t["text"] for t in report["transcript"])
        starts = [t["start_seconds"] for t in report["transcript"]]
        assert starts == sorted(starts) and report["duration_seconds"] > starts[-1]
        if slug in OWN_WORDS:
            assert not [w for w in FOREIGN[slug] if w.lower() in text.lower()], text
            assert report["converted"] == (CONVERTED_WHEN[slug] in text)
        else:
            assert not any(w in text for w in ("Harbor", "Northwind", "Lumen", "bill"))
            assert 4 <= len(report["transcript"]) <= 8


def test_simulate_traffic_finds_the_port_make_run_serves_on(monkeypatch, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    monkeypatch.delenv("SITE_URL", raising=False)
    monkeypatch.setenv("PORT", "8765")
    assert simulate_traffic._default_url() == "http://127.0.0.1:8765"
    monkeypatch.setenv("SITE_URL", "https://switchboard.example.com")
    settings.SITE_URL = "https://switchboard.example.com"
    assert simulate_traffic._default_url() == "https://switchboard.example.com"


@pytest.mark.django_db
def test_simulate_traffic_says_how_to_reach_a_server_elsewhere(agent):
    from django.core.management import CommandError

    with pytest.raises(CommandError) as refused:
        call_command(
            "simulate_traffic",
            "--agent",
            agent.slug,
            "--calls",
            "1",
            "--url",
            "http://127.0.0.1:9/",
        )
    assert str(refused.value).startswith("Is Switchboard running at http://127.0.0.1:9?")
    assert "say where with --url, e.g. --url http://127.0.0.1:8765" in str(refused.value)


def test_demo_calls_say_how_the_agent_ran(demo):
    """Every demo call reports latency, cost, tokens, tools, interruptions and who ended
    it, consistent with its outcome and transcript (issue 12)."""
    for call in demo.calls:
        agent_turns = [t for t in call.transcript if t["speaker"] == "agent"][1:]
        latencies = [t["latency_ms"] for t in agent_turns]
        assert all(100 < ms < 5_000 for ms in latencies), call.call_id
        if latencies:
            mean = sum(latencies) / len(latencies)
            assert abs(call.response_latency_ms - mean) < 0.1
        assert 0 <= call.tool_errors <= call.tool_calls and call.cost_usd > 0
        assert (call.ended_by == "transfer") == bool(call.transferred), call.call_id
        assert call.end_reason


def test_simulated_reports_are_accepted_with_every_run_field():
    from apps.calls.schemas import parse_reports

    rng = random.Random(3)
    assignment = SimpleNamespace(
        agent="front-desk", variant_id=None, experiment_id=None, variant_key="b", fallback=False
    )
    reports = [
        simulate_traffic._call(rng, assignment, f"+1555100{n:04d}", f"r{n}", 0.4, None)
        for n in range(50)
    ]
    for report in reports:
        report["started_at"] = "2026-11-22T10:00:00Z"
    parsed, _ = parse_reports(json.dumps(reports).encode())
    assert all(p.cost_usd is not None and p.ended_by for p in parsed)
    assert {p.ended_by for p in parsed} >= {"agent", "caller"}


def test_demo_callers_come_from_real_countries_and_report_post_call_fields(demo):
    """The demo gives the country segment and the agent's metrics page something to show:
    callers from the US, Canada and the UK, and a yes/no, a number and a text field."""
    from apps.results.countries import region_of

    regions = {
        region_of(call.caller[:5] if call.caller.startswith("+1") else call.caller[:4])
        for call in demo.calls
    }
    assert {"US", "CA", "GB"} <= regions
    for call in demo.calls:
        assert call.fields["booked_visit"] is bool(call.converted), call.call_id
        assert call.fields["satisfaction"] in range(1, 6)
        assert call.fields["language"] in ("en", "es", "fr")
