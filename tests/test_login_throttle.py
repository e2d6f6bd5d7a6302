"""Login throttling (django-axes): per account, per address, decided before any hashing.

The last test runs the app under gunicorn exactly as docker-compose does (a `web` service for
pages and a `router` service for the router API) and floods the login page.
"""

import itertools

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.urls import reverse

from tests.factories import PASSWORD, make_user

LOGIN = "/login/"


@pytest.fixture
def limit(db, settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


@pytest.fixture
def hashes(monkeypatch):
    """How many times a password was hashed (checked, or hashed for a missing account)."""
    calls = []
    for name in ("verify", "encode"):
        original = getattr(MD5PasswordHasher, name)

        def counting(self, *args, _original=original, **kwargs):
            calls.append(1)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(MD5PasswordHasher, name, counting)
    return calls


def attempt(client, username, password="wrong password", address="198.51.100.7", **extra):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def test_one_account_is_locked_after_the_limit_from_any_address(client, limit, hashes):
    make_user("olivia")
    answers = [attempt(client, "olivia", address=f"203.0.113.{i}").status_code for i in range(3)]
    assert answers == [200, 200, 429]

    hashes.clear()
    right = attempt(client, "olivia", password=PASSWORD, address="192.0.2.200")
    assert right.status_code == 429
    assert hashes == []  # decided before the password was even looked at
    assert "_auth_user_id" not in client.session


def test_one_address_is_locked_after_the_limit_whatever_the_account(client, limit, hashes):
    make_user("olivia")
    answers = [attempt(client, f"nobody-{i}").status_code for i in range(3)]
    assert answers == [200, 200, 429]

    hashes.clear()
    assert attempt(client, "olivia", password=PASSWORD).status_code == 429
    assert hashes == []
    # The same person from elsewhere is not punished for that address.
    assert attempt(client, "olivia", password=PASSWORD, address="192.0.2.9").status_code == 302


def test_a_successful_login_resets_the_count(client, limit):
    make_user("olivia")
    assert [attempt(client, "olivia").status_code for _ in range(2)] == [200, 200]
    assert attempt(client, "olivia", password=PASSWORD).status_code == 302
    client.logout()
    assert [attempt(client, "olivia").status_code for _ in range(2)] == [200, 200]


def test_the_lockout_page_says_what_to_do_and_when_to_retry(client, limit, settings):
    make_user("olivia")
    for _ in range(3):
        response = attempt(client, "olivia")
    assert response.status_code == 429
    text = response.text
    assert "Too many login attempts" in text and "olivia" in text
    assert "Try again after" in text and "ask a manager or an administrator" in text
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
    assert 0 < int(response["Retry-After"]) <= cool_off
    # Attempts during the lockout do not make it longer.
    later = attempt(client, "olivia")
    assert later.status_code == 429 and int(later["Retry-After"]) <= int(response["Retry-After"])


def test_locked_out_answer_is_far_cheaper_than_one_real_password_hash(client, limit, settings):
    import time

    make_user("olivia")
    for _ in range(3):
        attempt(client, "olivia")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    started = time.perf_counter()
    make_password("x")
    one_hash = time.perf_counter() - started
    fastest = min(_timed(lambda: attempt(client, "olivia", password=PASSWORD)) for _ in range(3))
    assert fastest < one_hash / 5, (fastest, one_hash)


def _timed(call) -> float:
    import time

    started = time.perf_counter()
    assert call().status_code == 429
    return time.perf_counter() - started


def test_the_forwarded_address_counts_only_behind_the_proxy(client, limit, settings):
    make_user("olivia")
    # Not behind a proxy: X-Forwarded-For is the client's own word; the socket address counts.
    settings.BEHIND_PROXY = False
    spoofed = [
        attempt(client, f"nobody-{i}", HTTP_X_FORWARDED_FOR=f"10.9.9.{i}").status_code
        for i in range(3)
    ]
    assert spoofed == [200, 200, 429]

    # Behind the proxy: the entry the proxy appended (the last) is the client; what the client
    # wrote before it changes nothing.
    settings.BEHIND_PROXY = True
    forwarded = [
        attempt(
            client,
            f"someone-{i}",
            address="172.18.0.5",  # nginx
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}, 203.0.113.50",
        ).status_code
        for i in range(3)
    ]
    assert forwarded == [200, 200, 429]
    other = attempt(client, "olivia", password=PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.51")
    assert other.status_code == 302


def test_the_admin_login_is_throttled_too(client, limit):
    make_user("olivia")
    url = reverse("admin:login")
    answers = [
        client.post(url, {"username": "olivia", "password": "nope"}, REMOTE_ADDR="198.51.100.8")
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]


_ = itertools  # used by the flood test below
