"""Audit lines in words: unchanged fields left out, empty values said as words."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry, in_words
from apps.audit.services import audit_record
from apps.experiments.services import variant_update


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({}, "none"),
        ([], "none"),
        (None, "none"),
        ("", "empty"),
        (True, "yes"),
        ({"model": "gpt-4o", "temperature": 0.9}, "model gpt-4o, temperature 0.9"),
        (["transfer_rate", "duration"], "transfer_rate, duration"),
        (3, 3),
        ("Warm thanks", "Warm thanks"),
    ],
)
def test_values_read_as_words(value, words):
    assert in_words(value) == words


def test_unchanged_fields_are_left_out():
    entry = AuditEntry(
        before={"name": "Variant B", "config": {}, "version": 1},
        after={"name": "Variant B", "config": {}, "version": 2},
    )
    assert entry.changes == [("version", 1, 2)]


def test_an_emptied_value_reads_as_a_word():
    entry = AuditEntry(before={"config": {"voice": "alloy"}}, after={"config": {}})
    assert entry.changes == [("configuration overrides", "voice alloy", "none")]


@pytest.mark.django_db
def test_the_log_page_has_no_braces_or_unchanged_names(client, viewer, experiment, operator):
    b = experiment.variants.get(key="b")
    variant_update(variant=b, name="Variant B", body=b.prompt_version.body, user=operator)
    audit_record(actor=operator, action="variant.update", obj=experiment, before={}, after={})
    client.force_login(viewer)
    page = client.get(reverse("audit:log"), {"action": "variant.update"}).text
    assert "{}" not in page and "Variant B → Variant B" not in page
    assert "config:" not in page and "name:" not in page
