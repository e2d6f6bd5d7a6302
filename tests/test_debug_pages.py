"""With DEBUG on, as `make run` serves, people still get the site's own 404 and 500 pages, not
Django's debug pages; the API keeps answering JSON."""

import logging

import pytest
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.test import Client

from apps.experiments import selectors

pytestmark = pytest.mark.django_db
DEBUG_PAGE = "because you have <code>DEBUG = True</code>"


@pytest.fixture
def as_viewer(client, viewer, settings):
    settings.DEBUG = True
    client.force_login(viewer)
    return client


def _styled(response, status):
    text = response.content.decode()
    assert response.status_code == status
    assert 'class="card narrow' in text and "/static/css/" in text
    assert DEBUG_PAGE not in text and "Traceback" not in text
    return text


def test_an_unknown_address_is_the_sites_404(as_viewer):
    text = _styled(as_viewer.get("/no/such/page/"), 404)
    assert "There is nothing at this address" in text
    assert 'href="/experiments/"' in text  # the menu and links of a signed-in page


def test_a_404_raised_in_a_view_is_the_sites_404(as_viewer):
    assert "There is nothing at this address" in _styled(as_viewer.get("/experiments/999999/"), 404)


def test_an_address_missing_its_slash_is_still_redirected(as_viewer):
    response = as_viewer.get("/experiments")
    assert response.status_code == 301 and response["Location"] == "/experiments/"


def test_signed_out_an_unknown_address_is_the_404_too(settings):
    settings.DEBUG = True
    _styled(Client().get("/no/such/page/"), 404)


def test_the_api_keeps_json(client, settings, admin_key):
    settings.DEBUG = True
    for path in ("/api/v1/experiments/999999", "/api/v1/no-such-thing"):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {admin_key}")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_a_failure_is_the_sites_500_page_and_the_traceback_goes_to_the_log(
    as_viewer, monkeypatch, caplog
):
    def broken(**filters):
        raise RuntimeError("the list broke")

    monkeypatch.setattr(selectors, "experiments_for_list", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = as_viewer.get("/experiments/")
    assert "Something went wrong on Switchboard" in _styled(response, 500)
    assert "the list broke" in caplog.text


def test_a_bad_request_is_the_sites_400_page(as_viewer, monkeypatch):
    def suspicious(**filters):
        raise SuspiciousOperation("odd")

    monkeypatch.setattr(selectors, "experiments_for_list", suspicious)
    assert "This request cannot be used" in _styled(as_viewer.get("/experiments/"), 400)


def test_with_debug_off_django_handles_them_as_before(client, viewer, settings, monkeypatch):
    settings.DEBUG = False
    client.force_login(viewer)

    def missing(**filters):
        raise Http404

    monkeypatch.setattr(selectors, "experiments_for_list", missing)
    assert "There is nothing at this address" in _styled(client.get("/experiments/"), 404)
