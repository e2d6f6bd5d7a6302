"""A/A through `apps.results.analysis.analyse()`, the function the results page uses.

Both arms convert at BASELINE; every experiment is analysed at each of LOOKS looks (CALLS new
calls per arm between looks), and counts as a false winner or loser if any look's verdict is
"winning" or "losing". Seeded: the same arguments give the same figures.

    PYTHONPATH=. .venv/bin/python bench/aa_analyse.py 0.02 2000 100 100
"""

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import numpy as np  # noqa: E402

from apps.results.aggregation import ArmData  # noqa: E402
from apps.results.analysis import Arm, Setup, analyse  # noqa: E402
from apps.stats.types import RatioStats  # noqa: E402


def arm(key: str, n: int, successes: int, control: bool = False) -> Arm:
    stats = RatioStats(n, float(successes), float(successes), float(n), float(n), successes)
    return Arm(key, key.upper(), 50, control, ArmData(0, n, n, {"conversion": stats}), n)


def main(baseline: float, experiments: int, looks: int, calls: int) -> None:
    setup = Setup("conversion", "higher", (), 100, 5000, 0.05, 0.0)
    rng = np.random.default_rng(2026)
    won = lost = 0
    started = time.time()
    for _ in range(experiments):
        control = np.cumsum(rng.binomial(calls, baseline, looks))
        variant = np.cumsum(rng.binomial(calls, baseline, looks))
        codes = set()
        for look in range(looks):
            n = calls * (look + 1)
            arms = [arm("control", n, int(control[look]), True), arm("b", n, int(variant[look]))]
            codes.add(analyse(setup, arms)["verdict"]["code"])
        won += "winning" in codes
        lost += "losing" in codes
    print(
        f"baseline {baseline:.0%}: {experiments} A/A experiments, {looks} looks of {calls} calls "
        f"per arm: false winners {won / experiments:.1%}, false losers {lost / experiments:.1%}, "
        f"any {(won + lost) / experiments:.1%} ({time.time() - started:.0f} s)"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
