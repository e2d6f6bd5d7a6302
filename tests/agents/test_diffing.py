from apps.agents.diffing import missing_placeholders, prompt_diff


def text_of(diff, kind):
    return [s.text for s in diff.segments if s.kind == kind]


def test_one_changed_word_is_one_removal_and_one_addition():
    diff = prompt_diff("Greet the caller politely.", "Greet the caller warmly.")
    assert text_of(diff, "removed") == ["politely."] and text_of(diff, "added") == ["warmly."]
    assert diff.changes == 1 and diff.warnings == []
    assert "".join(s.text for s in diff.segments if s.kind != "removed") == (
        "Greet the caller warmly."
    )


def test_identical_prompts_have_no_changes():
    assert prompt_diff("Same.", "Same.").unchanged


def test_several_separate_changes_warn_to_test_one_at_a_time():
    diff = prompt_diff("a b c d e f g h", "A b C d E f g h")
    assert diff.changes == 3
    assert any("3 separate places" in w for w in diff.warnings)


def test_a_missing_placeholder_is_named():
    before = "Greet {{caller_name}} and confirm {{ appointment.time }}."
    after = "Greet the caller and confirm {{appointment.time}}."
    assert missing_placeholders(before, after) == ("{{caller_name}}",)
    assert any("{{caller_name}}" in w for w in prompt_diff(before, after).warnings)
