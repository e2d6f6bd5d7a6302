"""Fact and forbidden checks on transcripts (no database, no endpoint); the overall result."""

import pytest

from apps.rehearsals.checks import fact_check, forbidden_check, judge_check, normalise, overall


def said(*texts):
    return [
        {"speaker": "agent" if i % 2 == 0 else "caller", "text": t} for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize(
    ("agent_says", "value", "outcome"),
    [
        ("Booked for MARCH 3rd, see you!", "march 3rd", "pass"),
        ("Your number is 555 01 23.", "5550123", "pass"),
        ("Rendez-vous chez Dr. Müller-Lévy.", "dr muller levy", "pass"),
        ("Booked for March 13.", "March 3", "fail"),  # whole words only
        ("Booked for 3/4.", "March 4", "fail"),  # dates are not interpreted
    ],
)
def test_a_fact_is_found_after_normalising_both_sides(agent_says, value, outcome):
    assert fact_check(said(agent_says), value).outcome == outcome


def test_a_fact_the_caller_said_but_the_agent_did_not_fails():
    assert fact_check(said("Which date?", "March 3"), "March 3").outcome == "fail"


def test_a_forbidden_phrase_fails_and_marks_every_turn_that_said_it():
    result = forbidden_check(
        said("Next free SLOT is Monday.", "ok", "Fine.", "no", "The next free slot!"),
        "next free slot",
    )
    assert result.outcome == "fail" and result.failing_turns == (0, 4)
    assert forbidden_check(said("Which date?"), "next free slot").outcome == "pass"


def test_a_judge_check_without_a_judge_or_reachable_endpoint_is_an_error():
    from apps.rehearsals.simulate import Endpoint

    assert judge_check(said("Hi"), "Greets", None).outcome == "error"
    nowhere = Endpoint("http://127.0.0.1:9/v1", "judge", timeout=0.5)
    result = judge_check(said("Hi"), "Greets", nowhere)
    assert result.outcome == "error" and "could not reach" in result.note


def test_overall_is_fail_before_error_before_pass():
    assert overall(["pass", "error", "fail"]) == "fail"
    assert overall(["pass", "error"]) == "error"
    assert overall(["pass", "pass"]) == "pass"
    assert overall([]) is None


def test_normalise_folds_case_accents_punctuation_and_digit_spaces():
    assert normalise("  Été, 12 34!  ") == "ete 1234"
