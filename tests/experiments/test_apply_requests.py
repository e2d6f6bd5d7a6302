"""Asking a manager to apply a variant (apps/experiments/services/requests.py) and the pages
around it: who may ask, what is refused (changing nothing), the managers' home page, the
webhook, and how a request closes."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.experiments.models import ApplyRequest, Status
from apps.experiments.services import (
    apply_request_create,
    apply_requests_pending,
    experiment_start,
    experiment_stop,
)
from apps.outbox.models import Message
from apps.results.services import results_compute
from tests.results.helpers import add_calls
from tests.results.test_safety import webhook  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def won(experiment, operator):
    """A stopped experiment whose variant B is a clear winner."""
    experiment_start(experiment=experiment, user=operator)
    add_calls(experiment, {"control": 0.2, "b": 0.4}, per_variant=6000)
    experiment_stop(experiment=experiment, user=operator)
    results_compute(experiment=experiment, frozen=True)
    experiment.refresh_from_db()
    return experiment


def ask(client, experiment, key="b", note="B books more visits."):
    url = reverse("experiments:ask", args=[experiment.pk])
    return client.post(url, {"variant": key, "note": note})


def nothing_asked():
    return (
        ApplyRequest.objects.count() == 0
        and not AuditEntry.objects.filter(action__startswith="apply_request").exists()
    )


def test_an_operator_asks_and_managers_see_it_on_their_home_page(
    client, won, operator, manager, request, settings, django_capture_on_commit_callbacks
):
    url, received = request.getfixturevalue("webhook")
    settings.ALERT_WEBHOOK_URL = url
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(client, won)
    assert response.status_code == 302
    request = ApplyRequest.objects.get()
    assert (request.variant.key, request.requested_by, request.note) == (
        "b",
        operator,
        "B books more visits.",
    )
    assert request.state == ApplyRequest.PENDING
    entry = AuditEntry.objects.get(action="apply_request.create")
    assert entry.actor == operator and entry.reason == "B books more visits."
    assert len(received) == 1
    assert "olivia asks a manager to apply Variant B" in received[0]["text"]
    assert won.get_absolute_url() in received[0]["text"]

    assert "Waiting for a manager" not in client.get("/agents/").text  # operators do not
    client.force_login(manager)
    home = client.get("/agents/").text
    assert "Waiting for a manager" in home and "Apply Variant B in “Warmer greeting”" in home
    assert won.get_absolute_url() in home and "B books more visits." in home
    panel = client.get(reverse("results:panel", args=[won.pk])).text
    assert "olivia asked a manager to apply Variant B" in panel
    assert "Answer the request" in panel


def test_the_announcement_waits_in_the_outbox_until_the_request_commits(won, operator):
    apply_request_create(experiment=won, variant_key="b", user=operator)
    message = Message.objects.get(task_name="results.send_alert")
    assert "asks a manager to apply Variant B" in message.args[0]


def test_a_viewer_cannot_ask(client, won, viewer):
    client.force_login(viewer)
    assert ask(client, won).status_code == 403
    assert client.get(reverse("experiments:ask", args=[won.pk]) + "?variant=b").status_code == 403
    assert nothing_asked()


def test_an_operator_cannot_apply(client, won, operator):
    client.force_login(operator)
    response = client.post(reverse("experiments:apply", args=[won.pk]), {"variant": "b"})
    assert response.status_code == 403
    won.refresh_from_db()
    assert won.status == Status.STOPPED and won.winner is None


def test_asking_twice_while_one_waits_is_refused(client, won, operator):
    client.force_login(operator)
    ask(client, won)
    response = ask(client, won, note="Again")
    assert response.status_code == 400
    assert "olivia already asked a manager to apply Variant B" in response.text
    assert ApplyRequest.objects.count() == 1
    assert AuditEntry.objects.filter(action="apply_request.create").count() == 1


def test_asking_for_the_control_is_refused(client, won, operator):
    client.force_login(operator)
    response = ask(client, won, key="control")
    assert response.status_code == 400
    assert "The control is the prompt the agent already uses" in response.text
    assert nothing_asked() and not Message.objects.filter(task_name="results.send_alert").exists()


def test_asking_for_a_draft_is_refused(client, experiment, operator):
    client.force_login(operator)
    assert ask(client, experiment).status_code == 400
    assert nothing_asked()


def test_a_variant_a_guardrail_blocks_cannot_be_asked_for(client, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    add_calls(
        experiment,
        {"control": 0.2, "b": 0.2},
        per_variant=1500,
        transferred={"control": 0.05, "b": 0.30},
    )
    results_compute(experiment=experiment)
    client.force_login(operator)
    response = ask(client, experiment)
    assert response.status_code == 400 and "Applying it is blocked" in response.text
    assert nothing_asked()


def test_applying_closes_the_request(client, won, operator, manager):
    client.force_login(operator)
    ask(client, won)
    client.force_login(manager)
    response = client.post(reverse("experiments:apply", args=[won.pk]), {"variant": "b"})
    assert response.status_code == 302
    request = ApplyRequest.objects.get()
    assert request.state == ApplyRequest.APPLIED and request.closed_by == manager
    assert AuditEntry.objects.filter(action="apply_request.close", actor=manager).exists()
    assert "Waiting for a manager" not in client.get("/agents/").text


def test_an_experiment_applied_elsewhere_no_longer_waits(won, operator, manager):
    from apps.experiments.services import winner_apply

    apply_request_create(experiment=won, variant_key="b", user=operator)
    winner_apply(experiment=won, variant_key="b", user="automation key")  # e.g. the API
    assert list(apply_requests_pending()) == []


def test_a_manager_declines_and_the_operator_may_ask_again(client, won, operator, manager):
    client.force_login(operator)
    ask(client, won)
    request = ApplyRequest.objects.get()
    client.force_login(manager)
    url = reverse("experiments:request-decline", args=[won.pk, request.pk])
    assert client.post(url, {"answer": "Wait for the reviewers."}).status_code == 302
    request.refresh_from_db()
    assert request.state == ApplyRequest.DECLINED and request.answer == "Wait for the reviewers."
    assert AuditEntry.objects.filter(action="apply_request.decline", actor=manager).exists()
    assert "Waiting for a manager" not in client.get("/agents/").text
    client.force_login(operator)
    panel = client.get(reverse("results:panel", args=[won.pk])).text
    assert "mona declined the request to apply Variant B" in panel
    assert "Wait for the reviewers." in panel and "Ask a manager to apply Variant B" in panel
    assert client.post(url).status_code == 403  # operators cannot answer
    assert ask(client, won, note="The reviewers agree now.").status_code == 302
    assert ApplyRequest.objects.filter(state=ApplyRequest.PENDING).count() == 1


def test_the_ask_page_shows_what_would_change(client, won, operator):
    client.force_login(operator)
    page = client.get(reverse("experiments:ask", args=[won.pk]) + "?variant=b").text
    assert "Ask a manager to apply Variant B to" in page
    assert "<ins>" in page and "A note for the manager" in page


def test_an_apply_through_the_api_closes_the_request_in_its_own_transaction(
    won, operator, api, admin_key
):
    apply_request_create(experiment=won, variant_key="b", user=operator)
    response = api.post(f"/api/v1/experiments/{won.pk}/apply", {"variant": "b"}, key=admin_key)
    assert response.status_code == 200, response.content
    request = ApplyRequest.objects.get()
    assert request.state == ApplyRequest.APPLIED and request.closed_at is not None
    assert AuditEntry.objects.filter(action="apply_request.close").count() == 1


def test_the_announcement_has_its_own_email_subject(won, operator):
    apply_request_create(experiment=won, variant_key="b", user=operator)
    message = Message.objects.get(task_name="results.send_alert")
    assert message.args[2] == "Switchboard: a manager is asked to apply a variant"


def test_the_timeline_says_who_asked_and_who_declined(won, operator, manager):
    from apps.experiments.selectors import experiment_timeline
    from apps.experiments.services import apply_request_decline

    request = apply_request_create(
        experiment=won, variant_key="b", user=operator, note="B books more."
    )
    apply_request_decline(request=request, user=manager, answer="Wait a week.")
    words = [(e.words, e.who) for e in experiment_timeline(won)]
    assert ("Asked a manager to apply Variant B: “B books more.”", "olivia") in words
    assert ("Declined the request to apply: “Wait a week.”", manager.username) in words
    entry = AuditEntry.objects.get(action="apply_request.create")
    assert entry.action_words == "asked a manager to apply a variant"
