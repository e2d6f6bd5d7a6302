"""The statistics' promise under peeking: seeded A/A and power simulations.

`apps.stats.simulate` runs many simulated experiments of two arms with 0/1 outcomes
(conversion), 50 new calls per arm between looks, and analyses every look with the engine's own
formulas (delta-method relative lift, Welch t, the sequential confidence sequence), vectorised
with NumPy. No server and no database.

1. A/A (`aa_false_positive_rates`): both arms convert at 20%, 2,000 experiments, 100 looks.
   The share of experiments in which the sequential interval ever excluded 0, i.e. the
   sequential verdict would have declared a winner that does not exist: target at most 5%
   (alpha). Beside it, the share in which a fixed-horizon p < 0.05 at some look (peeking):
   reported, about 37% expected.
2. Power (`power_check`): the variant converts 20% better (24% against 20%), 1,000
   experiments, 100 looks. The share in which the sequential interval lay entirely above 0 at
   some look: target at least 80%.

Seeded (the module's default seeds, recorded), so every run gives the same figures; the time
is reported only.
"""

from bench.lib import Figure, Result, log, save

AA = {"experiments": 2000, "looks": 100, "calls_per_look": 50, "baseline": 0.2, "alpha": 0.05}
POWER = {"relative_lift": 0.20, "experiments": 1000, "looks": 100, "calls_per_look": 50}
AA_TARGET = 0.05
POWER_TARGET = 0.80


def main() -> None:
    import inspect

    from apps.stats.simulate import aa_false_positive_rates, power_check

    def settings(function, given: dict) -> dict:
        defaults = {
            name: p.default
            for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        return {**defaults, **given}

    aa_settings = settings(aa_false_positive_rates, AA)
    power_settings = settings(power_check, POWER)
    aa = aa_false_positive_rates(**AA)
    power = power_check(**POWER)
    log(
        f"aa: A/A, {aa.experiments:,} experiments x {aa.looks} looks: sequential ever "
        f"{aa.sequential_ever:.2%} (final look {aa.sequential_final:.2%}), fixed-horizon "
        f"p < 0.05 ever {aa.fixed_ever:.2%} (final look {aa.fixed_final:.2%}), "
        f"{aa.seconds:.1f} s; settings {aa_settings}"
    )
    log(
        f"aa: power, +{power.relative_lift:.0%}: sequential detected {power.sequential_ever:.2%} "
        f"(at the final look {power.sequential_final:.2%}), fixed-horizon at the final look "
        f"{power.fixed_final:.2%}, {power.seconds:.1f} s; settings {power_settings}"
    )
    looks = f"{aa.looks} looks"
    save(
        Result(
            "aa",
            [
                Figure(
                    f"A/A: sequential verdict ever declared a winner ({aa.experiments:,} "
                    f"experiments, {looks})",
                    aa.sequential_ever * 100,
                    "%",
                    ("<=", AA_TARGET * 100),
                    2,
                ),
                Figure(
                    f"A/A: fixed-horizon p < 0.05 at any of the {looks} (peeking)",
                    aa.fixed_ever * 100,
                    "%",
                    None,
                    2,
                ),
                Figure(
                    "A/A: fixed-horizon p < 0.05 at the final look only",
                    aa.fixed_final * 100,
                    "%",
                    None,
                    2,
                ),
                Figure(
                    f"power: +{power.relative_lift:.0%} lift detected by the sequential verdict "
                    f"({power.experiments:,} experiments, {power.looks} looks)",
                    power.sequential_ever * 100,
                    "%",
                    (">=", POWER_TARGET * 100),
                    2,
                ),
                Figure(
                    "power: fixed-horizon p < 0.05 at the final look",
                    power.fixed_final * 100,
                    "%",
                    None,
                    2,
                ),
                Figure("time for both simulations", aa.seconds + power.seconds, "s", None, 1),
            ],
            {
                "aa": {**aa_settings, **_shares(aa)},
                "power": {**power_settings, **_shares(power)},
            },
        )
    )


def _shares(result) -> dict:
    return {
        "sequential_ever": result.sequential_ever,
        "fixed_ever": result.fixed_ever,
        "sequential_final": result.sequential_final,
        "fixed_final": result.fixed_final,
        "seconds": round(result.seconds, 2),
    }


def _se(shares: dict) -> float:
    """Monte Carlo standard error of the A/A share: sqrt(p (1 - p) / experiments)."""
    p = shares["sequential_ever"]
    return (p * (1 - p) / shares["experiments"]) ** 0.5


def markdown(details: dict) -> str:
    aa, power = details["aa"], details["power"]
    per_arm = aa["looks"] * aa["calls_per_look"]
    return (
        f"A/A simulation (seed {aa['seed']}): {aa['experiments']:,} experiments with no real "
        f"difference, both arms converting at {aa['baseline']:.0%}, {aa['calls_per_look']} new "
        f"calls per arm between looks, {per_arm:,} per arm at the end, alpha {aa['alpha']}, "
        f"N* {aa['tuning']:,.0f}. Looked at {aa['looks']} times, the sequential verdict "
        f"declared a false winner in {aa['sequential_ever']:.2%} of them (± {_se(aa):.2%}, "
        f"the simulation's standard error); a fixed-horizon "
        f"p-value would have in {aa['fixed_ever']:.2%} (and in {aa['fixed_final']:.2%} looked "
        f"at once, at the end). Power (seed {power['seed']}): {power['experiments']:,} "
        f"experiments where the variant converts {power['relative_lift']:.0%} better "
        f"({power['baseline']:.0%} → {power['baseline'] * (1 + power['relative_lift']):.0%}), "
        f"same looks; the sequential verdict detected it in {power['sequential_ever']:.2%} "
        f"(fixed-horizon p < {power['alpha']} at the final look: {power['fixed_final']:.2%})."
    )


if __name__ == "__main__":
    main()
