"""`make run` as a newcomer runs it: SQLite, no Redis, no Celery (scripts/run). Calls sent by
`simulate_traffic` show up on the experiment's results panel without anyone clicking
"Recompute now" (issue 13, item 1: the panel said 0 calls until someone clicked)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def make_run(tmp_path):
    """scripts/run on a fresh SQLite database, its own port, without REDIS_URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PORT=str(port),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        ["sh", "scripts/run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        time.sleep(1)
    else:
        raise AssertionError((tmp_path / "run.log").read_text()[-3000:])
    yield url, env
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def _calls_on_panel(page) -> int:
    text = page.locator("#results").inner_text()
    counts = re.findall(r"Control: ([\d,]+) callers? \(([\d,]+) calls?\)", text)
    assert counts, text[:2000]
    return int(counts[0][1].replace(",", ""))


def test_new_calls_reach_the_results_panel_without_a_click(make_run, page, screenshot):
    url, env = make_run
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("switchboard-demo")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{url}/experiments/")
    page.get_by_role("link", name="Warmer greeting").click()
    expect(page.locator("#results")).to_contain_text("Control:", timeout=90_000)
    before = _calls_on_panel(page)

    simulated = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "simulate_traffic",
            "--agent",
            "front-desk",
            "--calls",
            "400",
            "--seed",
            "7",
            "--url",
            url,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    # The background scheduler recomputes every minute, the panel polls every 10 s: no click.
    deadline = time.monotonic() + 150
    while _calls_on_panel(page) <= before and time.monotonic() < deadline:
        page.wait_for_timeout(2_000)
    after = _calls_on_panel(page)
    screenshot("embedded-default-results-updated")
    assert after > before, (before, after)
    assert "Recompute now" in page.locator("#results").inner_text()  # offered, never needed
