"""The ratio rows' data (bench/aa_ratio.py): the cumulative sums handed to analyse() against
a per-caller computation in plain Python on the same calls, at a look mid-way and the last."""

from collections import defaultdict

import numpy as np
import pytest

from bench.aa_ratio import draw_ratio, ratio_calls
from bench.aa_table import LOOKS, Scenario

SPLIT_CHANGE = Scenario(
    "ratio-test",
    "test",
    "tool_success_rate",
    units_per_look=60,
    splits=((50, 50), (10, 90)),
    phase_from=(0, LOOKS // 2),
    kind="ratio",
)


def _python_sums(calls, look: int) -> dict:
    """(arm, phase) -> [metric units, num, num², den, den², num·den, callers, calls], from the
    calls seen by `look`, each caller summed over their calls."""
    per_caller = defaultdict(lambda: [0, 0, None])
    for i in range(calls["who"].size):
        if calls["look"][i] > look:
            continue
        mine = per_caller[int(calls["who"][i])]
        mine[0] += int(calls["ok"][i])
        mine[1] += int(calls["tools"][i])
        mine[2] = (int(calls["arm"][i]), int(calls["phase"][i]))
        mine.append(1)
    out = defaultdict(lambda: np.zeros(8))
    for num, den, where, *one_per_call in per_caller.values():
        unit = den > 0
        out[where] += [unit, num, num * num, den, den * den, num * den, 1, len(one_per_call)]
    return out


@pytest.mark.parametrize("look", [LOOKS // 2 + 3, LOOKS - 1])
def test_the_sums_are_each_callers_calls_added_up(look):
    calls = ratio_calls(np.random.default_rng(7), SPLIT_CHANGE)
    trial = draw_ratio(np.random.default_rng(7), SPLIT_CHANGE)
    expected = _python_sums(calls, look)
    assert sum(v[0] for v in expected.values()) > 100  # callers with a tool call
    assert sum(v[6] for v in expected.values()) > sum(v[0] for v in expected.values())
    for arm in range(2):
        for phase in range(2):
            got = np.r_[trial.cum[look, arm, phase], trial.units[look, arm, phase]]
            assert got == pytest.approx(expected[(arm, phase)], abs=1e-9)


def test_tools_succeed_about_97_percent_and_half_the_calls_make_none():
    calls = ratio_calls(np.random.default_rng(1), SPLIT_CHANGE)
    rate = calls["ok"].sum() / calls["tools"].sum()
    assert 0.95 < rate < 0.99
    assert (calls["tools"] == 0).mean() == pytest.approx(0.5, abs=0.03)
