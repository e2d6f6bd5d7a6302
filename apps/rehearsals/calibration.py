"""Does rehearsal predict production? For an experiment's judge criterion, the managers'
verdicts on live calls beside the simulated judge verdicts of rehearsal checks with the same
criterion text, on the same agent.

rehearsal_agreement(*, experiment) -> Agreement | None   (None: not a custom goal)
"""

from dataclasses import dataclass

from django.db.models import Count, Q

from apps.experiments.models import Experiment
from apps.judging.models import HumanVerdict
from apps.rehearsals.checks import check_label
from apps.rehearsals.models import Conversation


@dataclass(frozen=True)
class Agreement:
    criterion: str
    live_passed: int
    live_judged: int
    simulated_passed: int
    simulated_judged: int

    @property
    def live_rate(self) -> float | None:
        return self.live_passed / self.live_judged if self.live_judged else None

    @property
    def simulated_rate(self) -> float | None:
        return self.simulated_passed / self.simulated_judged if self.simulated_judged else None

    @property
    def gap_points(self) -> float | None:
        if self.live_rate is None or self.simulated_rate is None:
            return None
        return (self.simulated_rate - self.live_rate) * 100

    @property
    def gap_words(self) -> str:
        """ "Rehearsal reads 12 points lower than production." or "" without both rates."""
        gap = self.gap_points
        if gap is None:
            return ""
        if round(gap) == 0:
            return "Rehearsal and production agree within a point."
        way = "higher" if gap > 0 else "lower"
        return f"Rehearsal reads {abs(gap):.0f} points {way} than production."


def rehearsal_agreement(*, experiment: Experiment) -> Agreement | None:
    criterion = experiment.criteria.order_by("-version").first()
    text = (criterion.text if criterion else experiment.goal_criteria).strip()
    if not text:
        return None
    live = HumanVerdict.objects.filter(call__experiment=experiment).aggregate(
        judged=Count("id"), passed=Count("id", filter=Q(verdict="pass"))
    )
    label = check_label({"kind": "judge", "criterion": text})
    passed = judged = 0
    rows = Conversation.objects.filter(evaluation__agent=experiment.agent_id, error="")
    for outcomes in rows.values_list("outcomes", flat=True).iterator():
        for outcome in outcomes:
            if outcome.get("label") == label and outcome.get("outcome") in ("pass", "fail"):
                judged += 1
                passed += outcome["outcome"] == "pass"
    return Agreement(text, live["passed"], live["judged"], passed, judged)
