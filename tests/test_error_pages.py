"""Refusals and failures read as the site's pages, saying what happened and what to do next;
the API keeps answering JSON."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


def _styled(response):
    text = response.content.decode()
    assert 'class="card narrow error-page"' in text and "/static/css/" in text
    assert "What you can do" in text or "ask a manager" in text
    return text


def test_a_missing_page_is_the_sites_404(as_viewer, settings):
    settings.DEBUG = False
    response = as_viewer.get("/experiments/999999/")
    assert response.status_code == 404
    text = _styled(response)
    assert "There is nothing at this address" in text and "list of experiments" in text


def test_an_unknown_address_is_the_sites_404(as_viewer, settings):
    settings.DEBUG = False
    assert "There is nothing at this address" in _styled(as_viewer.get("/no/such/page/"))


def test_an_api_404_stays_json(client, admin_key, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/experiments/999999", HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


@pytest.mark.parametrize("debug", [False, True])
def test_a_refusal_by_role_is_the_sites_403_with_debug_on_or_off(as_viewer, settings, debug):
    settings.DEBUG = debug
    response = as_viewer.get(reverse("experiments:new"))
    assert response.status_code == 403
    assert "Your role cannot do this" in _styled(response)


@pytest.mark.parametrize("debug", [False, True])
def test_a_form_with_an_expired_token_is_explained(viewer, settings, debug):
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    response = client.post(reverse("logout"))
    assert response.status_code == 403
    text = _styled(response)
    assert "This form could not be sent" in text and "reload the page" in text


def test_a_failure_is_the_sites_500_page(settings):
    settings.DEBUG = False
    from config import urls

    response = urls.server_error(_request("/experiments/1/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on Switchboard" in text and "What you can do" in text
    assert "/static/css/" in text


def test_a_failure_under_the_api_is_json():
    from config import urls

    response = urls.server_error(_request("/api/v1/experiments"))
    assert response.status_code == 500 and response["Content-Type"] == "application/json"


def test_a_view_that_raises_is_answered_with_the_500_page(as_viewer, settings, monkeypatch):
    settings.DEBUG = False
    from apps.experiments import views

    def boom(request):
        raise RuntimeError("the test broke it")

    monkeypatch.setattr(views.selectors, "experiments_for_list", boom)
    as_viewer.raise_request_exception = False
    response = as_viewer.get(reverse("experiments:list"))
    assert response.status_code == 500
    assert "Something went wrong on Switchboard" in response.content.decode()


def _request(path):
    from django.test import RequestFactory

    return RequestFactory().get(path)
