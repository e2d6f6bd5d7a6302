"""Changes written in each metric's own unit (apps.stats.scales)."""

import pytest

from apps.stats.scales import format_change, shows_relative, threshold_in_units


@pytest.mark.parametrize(
    ("value", "metric", "text"),
    [
        (0.021, "conversion", "+2.1 points"),
        (-0.0005, "transfer_rate", "-0.05 points"),
        (0.04, "sentiment", "+0.04 points"),
        (-0.1, "sentiment", "-0.10 points"),
        (12.4, "duration", "+12 seconds"),
        (1.0, "duration", "+1 second"),
        (0.0, "sentiment", "0 points"),
    ],
)
def test_changes_read_in_the_metrics_unit(value, metric, text):
    assert format_change(value, metric, signed=True) == text


def test_sentiment_has_no_relative_change_and_an_absolute_threshold():
    assert not shows_relative("sentiment") and shows_relative("duration")
    assert threshold_in_units("sentiment", 0.03, -0.2) == 0.03
    assert threshold_in_units("transfer_rate", 0.03, 0.05) == 0.03  # 3 percentage points
    assert threshold_in_units("duration", 0.03, 200.0) == pytest.approx(6.0)
