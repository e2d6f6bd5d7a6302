"""Agreement between two raters who put the same items into the same categories (for
example a manager and the LLM judge saying pass or fail on the same calls).

Input is a square contingency table: ``table[i][j]`` is the number of items the first
rater put in category i and the second rater in category j.
"""

from collections.abc import Sequence


def _checked(table: Sequence[Sequence[float]]) -> tuple[list[list[float]], float]:
    rows = [list(row) for row in table]
    if any(len(row) != len(rows) for row in rows):
        raise ValueError("The agreement table must be square: one row and column per category.")
    if any(cell < 0 for row in rows for cell in row):
        raise ValueError("Counts in the agreement table cannot be negative.")
    return rows, float(sum(map(sum, rows)))


def observed_agreement(table: Sequence[Sequence[float]]) -> float | None:
    """Share of items both raters put in the same category: p_o = sum_i n_ii / n.

    None when the table holds no item.
    """
    rows, n = _checked(table)
    if n == 0:
        return None
    return sum(rows[i][i] for i in range(len(rows))) / n


def cohens_kappa(table: Sequence[Sequence[float]]) -> float | None:
    """Cohen's kappa: agreement between two raters beyond what chance alone would give.

    kappa = (p_o - p_e) / (1 - p_e), where p_o is the observed agreement and
    p_e = sum_i (n_i. / n) * (n_.i / n) the agreement expected if each rater drew categories
    independently at their own rates (n_i. a row total, n_.i a column total).
    Source: J. Cohen (1960), "A coefficient of agreement for nominal scales", Educational and
    Psychological Measurement 20(1), 37-46.

    1 is perfect agreement, 0 no better than chance, below 0 worse than chance. Landis &
    Koch (1977) call 0.61-0.80 "substantial" and above 0.80 "almost perfect".
    Assumes each item is rated once by each rater and the categories are nominal.
    None when it is undefined: no item, or p_e = 1 (both raters always used the one same
    category, so chance explains all agreement).
    """
    rows, n = _checked(table)
    if n == 0:
        return None
    k = len(rows)
    p_o = sum(rows[i][i] for i in range(k)) / n
    p_e = sum(sum(rows[i]) * sum(row[i] for row in rows) for i in range(k)) / (n * n)
    if p_e >= 1:
        return None
    return (p_o - p_e) / (1 - p_e)


def agreement_table(pairs, categories: Sequence) -> list[list[int]]:
    """The contingency table of (first rater, second rater) pairs over ``categories``;
    pairs with a category outside the list are left out."""
    index = {category: i for i, category in enumerate(categories)}
    table = [[0] * len(categories) for _ in categories]
    for first, second in pairs:
        if first in index and second in index:
            table[index[first]][index[second]] += 1
    return table
