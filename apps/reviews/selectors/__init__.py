"""Reads for the review pages: the sample and what is on it (sampling), the tally (tally)."""

from apps.reviews.selectors.sampling import (
    Pair,
    Sample,
    default_pair,
    experiments_for_reviews,
    median_duration,
    pairs_annotate,
    review_sample,
    sample_candidates,
    sample_ids,
)
from apps.reviews.selectors.tally import Preference, Tally, preference_tally

__all__ = [
    "Pair",
    "Preference",
    "Sample",
    "Tally",
    "default_pair",
    "experiments_for_reviews",
    "median_duration",
    "pairs_annotate",
    "preference_tally",
    "review_sample",
    "sample_candidates",
    "sample_ids",
]
