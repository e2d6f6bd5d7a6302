"""`next=` only ever leads back to this site: the judge's verdict form, login and logout."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from config.redirects import safe_next
from tests.factories import PASSWORD, CallFactory, make_user

pytestmark = pytest.mark.django_db

ELSEWHERE = [
    "https://evil.example/",
    "//evil.example/",
    "http:/\\evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    " https://evil.example/",
]


@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_verdict_never_redirects_off_the_site(client, manager, agent, target):
    call = CallFactory(agent=agent)
    client.force_login(manager)

    response = client.post(
        reverse("judging:human-verdict", args=[call.pk]), {"verdict": "pass", "next": target}
    )

    assert response.status_code == 302 and response["Location"] == f"/calls/{call.pk}/"


def test_a_verdict_returns_to_the_page_it_came_from(client, manager, agent):
    call = CallFactory(agent=agent)
    client.force_login(manager)
    back = f"/calls/{call.pk}/?tab=judge"

    response = client.post(
        reverse("judging:human-verdict", args=[call.pk]), {"verdict": "pass", "next": back}
    )

    assert response["Location"] == back


def test_over_https_a_next_that_drops_to_plain_http_is_refused():
    secure = RequestFactory().post("/", {"next": "http://testserver/calls/"}, secure=True)
    plain = RequestFactory().post("/", {"next": "http://testserver/calls/"})

    assert safe_next(secure, fallback="/") == "/"
    assert safe_next(plain, fallback="/") == "http://testserver/calls/"


@pytest.mark.parametrize("target", ELSEWHERE)
def test_login_never_redirects_off_the_site(client, target):
    make_user("lena", role="viewer")

    response = client.post(
        reverse("login"), {"username": "lena", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("agents:list")


@pytest.mark.parametrize("target", ELSEWHERE)
def test_logout_never_redirects_off_the_site(client, viewer, target):
    client.force_login(viewer)

    response = client.post(reverse("logout"), {"next": target})

    assert response.status_code == 302 and response["Location"] == reverse("login")
