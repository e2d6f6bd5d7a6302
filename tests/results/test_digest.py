"""The KPI digest reaches a real local webhook and email with the snapshot's numbers, once per
period (hourly or daily), never when off, and a hung webhook costs only its timeout."""

import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core import mail
from django.db import connection

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.experiments.services import experiment_start, variant_pause
from apps.results.card import in_unit
from apps.results.digest import digest_claim, digest_text, digests_send_due, is_due, plain
from apps.results.services import results_compute
from tests.factories import make_agent, make_experiment
from tests.results.helpers import add_calls

BERLIN = ZoneInfo("Europe/Berlin")


class Webhook:
    """A real HTTP server standing in for a Slack incoming webhook. It records each body;
    requests whose text contains `hang_on` are answered only after `hang_seconds`."""

    def __init__(self):
        self.received, self.hang_on, self.hang_seconds = [], None, 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.received.append(body)
                if hook.hang_on and hook.hang_on in body["text"]:
                    time.sleep(hook.hang_seconds)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook(settings):
    hook = Webhook()
    settings.ALERT_WEBHOOK_URL = hook.url
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.SITE_URL = "http://switchboard.test"
    yield hook
    hook.server.shutdown()


def running_experiment(agent, user, **kwargs):
    experiment = make_experiment(agent=agent, user=user, guardrails=["transfer_rate"], **kwargs)
    return experiment_start(experiment=experiment, user=user)


def hourly(agent, sent_at):
    Agent.objects.filter(pk=agent.pk).update(digest="hourly", digest_sent_at=sent_at)
    agent.refresh_from_db()
    return agent


def send(now, capture):
    with capture(execute=True):
        return digests_send_due(now)


def number(text: str) -> float:
    return float(text.replace(",", "").replace("+", ""))


@pytest.mark.django_db
def test_the_digest_arrives_with_the_snapshots_numbers(
    webhook, operator, django_capture_on_commit_callbacks
):
    agent = hourly(make_agent(name="Front desk"), datetime(2026, 3, 2, 9, 5, tzinfo=BERLIN))
    experiment = running_experiment(agent, operator)
    add_calls(experiment, {"control": 0.2, "b": 0.3}, per_variant=600)
    snapshot = results_compute(experiment=experiment)

    assert send(datetime(2026, 3, 2, 10, 1, tzinfo=BERLIN), django_capture_on_commit_callbacks)
    assert len(webhook.received) == 1
    text = webhook.received[0]["text"]
    assert text.endswith(f"http://switchboard.test{agent.get_absolute_url()}")
    # The goal's change, checked against the calls themselves (one call per caller here).
    converted = {
        key: np.array(
            Call.objects.filter(experiment=experiment, variant__key=key)
            .order_by("id")
            .values_list("converted", flat=True),
            dtype=float,
        )
        for key in ("control", "b")
    }
    expected = (converted["b"].mean() - converted["control"].mean()) * 100
    line = re.search(r"- Variant B: ([+-][\d.]+) points conversion rate .*range ([^)]*)\)", text)
    assert line, text
    assert number(line.group(1)) == pytest.approx(expected, abs=0.5)  # "+9.8" or "+10"
    lift = next(v for v in snapshot.data["variants"] if v["key"] == "b")["lift"]
    low, high = re.match(r"([+-]?[\d.]+) to ([+-]?[\d.]+) points", line.group(2)).groups()
    assert number(low) == pytest.approx(lift["ci_low"] * 100, abs=0.5)
    assert number(high) == pytest.approx(lift["ci_high"] * 100, abs=0.5)
    assert number(low) < number(line.group(1)) < number(high)
    # Guardrail and progress: units so far against the plan.
    assert re.search(r"- Guardrail transfer rate, Variant B: (not yet shown|shown|worse)", text)
    planned = snapshot.data["plan"]["calls_per_variant"]
    assert planned and f"Progress: 600 of {planned:,} callers per variant" in text
    assert in_unit(snapshot.verdict_sentence, experiment) in text
    assert "Paused since" not in text
    # Email through Django's locmem backend: the same words.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]
    assert mail.outbox[0].subject == "Switchboard digest: Front desk"
    assert line.group(0) in mail.outbox[0].body


@pytest.mark.django_db
def test_an_experiment_without_results_yet_says_so(webhook, operator):
    agent = hourly(make_agent(), None)
    experiment = running_experiment(agent, operator)
    text = digest_text(agent=agent, since=experiment.started_at, now=experiment.started_at)
    assert "No results yet" in text


@pytest.mark.django_db
def test_an_empty_variant_and_zero_variance_read_as_not_enough_yet(operator):
    agent = hourly(make_agent(), None)
    experiment = running_experiment(agent, operator)
    add_calls(experiment, {"control": 1.0}, per_variant=50)  # every call converted, b empty
    results_compute(experiment=experiment)
    now = experiment.started_at + timedelta(hours=1)
    text = digest_text(agent=agent, since=experiment.started_at, now=now)
    assert "- Variant B: not enough callers yet to compare with the control." in text
    assert "Progress: 0 callers in the smallest variant" in text


@pytest.mark.django_db
def test_off_sends_nothing_and_an_agent_with_no_running_experiment_sends_nothing(
    webhook, operator, django_capture_on_commit_callbacks
):
    quiet = make_agent()
    running_experiment(quiet, operator)  # digest off
    idle = hourly(make_agent(), datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN))
    make_experiment(agent=idle, user=operator)  # a draft only
    assert send(datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks) == 0
    assert webhook.received == [] and mail.outbox == []


@pytest.mark.django_db
def test_hourly_is_due_each_hour_and_daily_once_a_day_at_the_hour(settings):
    settings.TIME_ZONE, settings.DIGEST_HOUR = "Europe/Berlin", 8
    agent = Agent(digest="hourly", digest_sent_at=datetime(2026, 3, 2, 10, 5, tzinfo=BERLIN))
    assert not is_due(agent, datetime(2026, 3, 2, 10, 59, tzinfo=BERLIN))
    assert is_due(agent, datetime(2026, 3, 2, 11, 0, tzinfo=BERLIN))
    agent.digest = "daily"
    assert not is_due(agent, datetime(2026, 3, 3, 7, 59, tzinfo=BERLIN))
    assert is_due(agent, datetime(2026, 3, 3, 8, 0, tzinfo=BERLIN))
    agent.digest_sent_at = datetime(2026, 3, 3, 8, 0, tzinfo=BERLIN)
    assert not is_due(agent, datetime(2026, 3, 3, 23, 0, tzinfo=BERLIN))
    assert not is_due(agent, datetime(2026, 3, 4, 7, 0, tzinfo=BERLIN))
    # Across the spring change of clocks, still 08:00 on the wall.
    agent.digest_sent_at = datetime(2026, 3, 28, 8, 0, tzinfo=BERLIN)
    assert not is_due(agent, datetime(2026, 3, 29, 7, 59, tzinfo=BERLIN))
    assert is_due(agent, datetime(2026, 3, 29, 8, 0, tzinfo=BERLIN))
    agent.digest = "off"
    assert not is_due(agent, datetime(2030, 1, 1, tzinfo=BERLIN))


@pytest.mark.django_db
def test_a_last_digest_dated_in_year_9999_does_not_silence_the_agent(operator):
    agent = hourly(make_agent(), datetime(9999, 12, 31, 23, 0, tzinfo=ZoneInfo("UTC")))
    assert is_due(agent, datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN))


@pytest.mark.django_db
def test_daily_agents_get_theirs_at_the_settings_hour_only(
    webhook, operator, settings, django_capture_on_commit_callbacks
):
    settings.TIME_ZONE, settings.DIGEST_HOUR = "Europe/Berlin", 6
    agent = make_agent()
    Agent.objects.filter(pk=agent.pk).update(
        digest="daily", digest_sent_at=datetime(2026, 3, 1, 6, 0, tzinfo=BERLIN)
    )
    running_experiment(agent, operator)
    day = datetime(2026, 3, 2, tzinfo=BERLIN)
    sent = [send(day + timedelta(hours=h), django_capture_on_commit_callbacks) for h in range(24)]
    assert sent == [0] * 6 + [1] + [0] * 17
    assert len(webhook.received) == 1 and "02 Mar 2026, 06:00 (CET)" in webhook.received[0]["text"]


@pytest.mark.django_db
def test_running_the_job_again_or_a_retry_sends_nothing_more(
    webhook, operator, django_capture_on_commit_callbacks
):
    agent = hourly(make_agent(), datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    running_experiment(agent, operator)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
    assert send(now, django_capture_on_commit_callbacks) == 1
    assert send(now, django_capture_on_commit_callbacks) == 0
    assert send(now + timedelta(minutes=59), django_capture_on_commit_callbacks) == 0
    assert len(webhook.received) == 1 and len(mail.outbox) == 1
    assert send(now + timedelta(hours=1), django_capture_on_commit_callbacks) == 1
    assert len(webhook.received) == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_digest(webhook, operator):
    agent = hourly(make_agent(), datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    running_experiment(agent, operator)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(digest_claim(agent_id=agent.pk, now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, False, False, True]
    assert len(webhook.received) == 1 and len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_hung_webhook_costs_its_timeout_and_other_agents_still_get_theirs(
    webhook, operator, django_capture_on_commit_callbacks
):
    webhook.hang_on, webhook.hang_seconds = "Hung desk", 40
    hung = hourly(make_agent(name="Hung desk"), datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    fine = hourly(make_agent(name="Fine desk"), datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    running_experiment(hung, operator)
    running_experiment(fine, operator)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
    started = time.monotonic()
    assert send(now, django_capture_on_commit_callbacks) == 2
    assert time.monotonic() - started < 20  # alert_send's 10-second client timeout, not 40
    texts = [body["text"] for body in webhook.received]
    assert any("Fine desk" in t for t in texts) and any("Hung desk" in t for t in texts)
    # The hung one is not sent again: it may have been posted.
    assert send(now + timedelta(minutes=5), django_capture_on_commit_callbacks) == 0
    assert len(webhook.received) == 2


@pytest.mark.django_db
def test_a_pause_is_listed_in_the_next_digest_only(
    webhook, operator, django_capture_on_commit_callbacks
):
    agent = hourly(make_agent(), None)
    experiment = running_experiment(agent, operator, weights=(34, 33, 33))
    start = datetime.now(tz=BERLIN)
    hourly(agent, start)
    reason = "Callers hung up early."
    variant_pause(experiment=experiment, variant_key="c", reason=reason, user=operator)
    send(start + timedelta(hours=1), django_capture_on_commit_callbacks)
    send(start + timedelta(hours=2), django_capture_on_commit_callbacks)
    first, second = (body["text"] for body in webhook.received)
    assert "Paused since the last digest:\n- Variant C was paused at" in first
    assert first.count("was paused at") == 1 and "Callers hung up early." in first
    assert "Paused since" not in second and "was paused" not in second


@pytest.mark.django_db
def test_names_cannot_ping_a_slack_channel_or_break_the_subject(
    webhook, operator, django_capture_on_commit_callbacks
):
    agent = hourly(make_agent(name="Desk <!channel>"), datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    experiment = running_experiment(agent, operator, name="Greeting\x1b[31m <http://evil|x>")
    send(datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN), django_capture_on_commit_callbacks)
    text = webhook.received[0]["text"]
    assert "<!channel>" not in text and "<http://evil" not in text and "\x1b" not in text
    assert plain(experiment.name) in text and "Desk \u2039!channel\u203a" in text
    assert "\n" not in mail.outbox[0].subject


def test_a_digest_hour_outside_the_day_is_refused_at_start():
    result = subprocess.run(
        [sys.executable, "-c", "import django; import config.settings"],
        env={"DIGEST_HOUR": "24", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DIGEST_HOUR must be an hour from 0 to 23, not 24." in result.stderr


@pytest.mark.django_db
def test_celery_beat_runs_the_digest_task_every_hour(
    webhook, operator, settings, django_capture_on_commit_callbacks
):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["send-digests"]
    assert entry["task"] == "results.send_digests" and entry["schedule"] == 3600.0
    agent = hourly(make_agent(), datetime(2020, 1, 1, tzinfo=BERLIN))
    running_experiment(agent, operator)
    with django_capture_on_commit_callbacks(execute=True):
        assert app.signature(entry["task"]).apply().get() == 1
    assert len(webhook.received) == 1


@pytest.mark.django_db(transaction=True)
def test_the_digest_goes_through_a_real_worker_on_redis(webhook, celery_worker_on_redis):
    from apps.results.tasks import send_digests
    from tests.factories import make_user
    from tests.waiting import wait_for

    user = make_user("ops", role="operator")
    agent = hourly(make_agent(name="Worker desk", user=user), datetime(2020, 1, 1, tzinfo=BERLIN))
    running_experiment(agent, user)
    send_digests.delay()  # what beat sends every hour
    assert wait_for(lambda: len(webhook.received) == 1)
    assert "Worker desk" in webhook.received[0]["text"]
    send_digests.delay()
    time.sleep(2)
    assert len(webhook.received) == 1
