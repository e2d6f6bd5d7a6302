"""Cohen's kappa against published worked examples and hand-computed values."""

import pytest

from apps.stats.agreement import agreement_table, cohens_kappa, observed_agreement


def test_kappa_reproduces_the_wikipedia_worked_example():
    # en.wikipedia.org/wiki/Cohen's_kappa, "Simple example": 50 grant proposals read by A and B.
    # Yes/yes 20, A yes B no 5, A no B yes 10, no/no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    table = [[20, 5], [10, 15]]
    assert observed_agreement(table) == pytest.approx(0.7)
    assert cohens_kappa(table) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("table", "kappa"),
    [
        # Wikipedia, "Same percentages but different numbers": both p_o = 0.60.
        ([[45, 15], [25, 15]], 0.1304),
        ([[25, 35], [5, 35]], 0.2593),
    ],
)
def test_kappa_reproduces_the_wikipedia_examples_of_equal_agreement(table, kappa):
    assert observed_agreement(table) == pytest.approx(0.6)
    assert cohens_kappa(table) == pytest.approx(kappa, abs=1e-4)


def test_kappa_of_three_categories_by_hand():
    # n = 30; p_o = (8 + 6 + 7) / 30 = 0.7;
    # rows 10, 10, 10; columns 10, 9, 11; p_e = (100 + 90 + 110) / 900 = 1/3;
    # kappa = (0.7 - 1/3) / (2/3) = 0.55
    table = [[8, 1, 1], [1, 6, 3], [1, 2, 7]]
    assert cohens_kappa(table) == pytest.approx(0.55)


def test_perfect_agreement_is_1_and_systematic_disagreement_is_negative():
    assert cohens_kappa([[10, 0], [0, 15]]) == 1.0
    assert cohens_kappa([[0, 10], [10, 0]]) == -1.0


def test_kappa_is_undefined_without_items_or_when_chance_explains_everything():
    assert cohens_kappa([[0, 0], [0, 0]]) is None
    assert observed_agreement([[0, 0], [0, 0]]) is None
    assert cohens_kappa([[12, 0], [0, 0]]) is None  # both always said "pass"


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="square"):
        cohens_kappa([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="negative"):
        cohens_kappa([[1, -1], [0, 1]])


def test_agreement_table_counts_pairs_and_drops_other_categories():
    pairs = [("pass", "pass"), ("pass", "fail"), ("fail", "fail"), ("fail", "unknown")]
    assert agreement_table(pairs, ["pass", "fail"]) == [[1, 1], [0, 1]]
