"""`manage.py evaluate --agent S --prompt-file F [--wait-seconds N] [--here]`: the CI step.

Rehearses the prompt in F against agent S's current prompt (apps.rehearsals.services.
prompt_evaluate), prints the status, per-check pass rates and the gate, and exits
0 when the gate passed, 1 when it failed, 2 on errors (no comparison possible: the endpoint
hung, refused or the cost cap stopped it; bad arguments) or when no result came in time.

Who runs it: a Celery worker when one answers a ping within a second (this waits up to
--wait-seconds for it); otherwise, or with --here, this process runs it at once
(evaluation_run), bounded by SIMULATION_TIMEOUT_SECONDS per request and the cost cap.
"""

import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.agents.models import Agent
from apps.rehearsals.models import Evaluation, Status
from apps.rehearsals.outcomes import EvaluationResults
from apps.rehearsals.services import evaluation_run, prompt_evaluate

PASSED, FAILED, ERROR = 0, 1, 2
POLL_SECONDS = 1.0


def _percent(rate) -> str:
    return "  n/a" if rate is None else f"{rate * 100:4.0f}%"


class Command(BaseCommand):
    help = "Rehearse a prompt file against an agent's current prompt; exit 0 passed, 1 failed."

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="The agent's slug.")
        parser.add_argument("--prompt-file", required=True, help="The candidate prompt, UTF-8.")
        parser.add_argument("--wait-seconds", type=float, default=900.0)
        parser.add_argument("--here", action="store_true", help="Run it in this process.")

    def handle(self, *args, **options):
        agent = Agent.objects.filter(slug=options["agent"]).select_related("current_version")
        if not agent.exists():
            raise CommandError(f"There is no agent “{options['agent']}”.", returncode=ERROR)
        body = self._read(options["prompt_file"])
        try:
            version, evaluation = prompt_evaluate(agent=agent.get(), body=body, user="manage.py")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=ERROR) from None
        self.stdout.write(f"Evaluation {evaluation.pk}: {version.label} against the current prompt")
        evaluation = self._run(evaluation, options["here"], options["wait_seconds"])
        code = self._report(evaluation)
        if code != PASSED:
            raise CommandError(f"The gate did not pass (exit {code}).", returncode=code)

    def _read(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}", returncode=ERROR) from None

    def _run(self, evaluation: Evaluation, here: bool, wait_seconds: float) -> Evaluation:
        if here or not _worker_answers():
            self.stdout.write("Running it in this process (no Celery worker answered).")
            return evaluation_run(evaluation=evaluation)
        self.stdout.write(f"A Celery worker runs it; waiting up to {wait_seconds:.0f} s.")
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            evaluation.refresh_from_db()
            if evaluation.status not in (Status.QUEUED, Status.RUNNING):
                break
            time.sleep(POLL_SECONDS)
        return evaluation

    def _report(self, evaluation: Evaluation) -> int:
        self.stdout.write(f"Status: {evaluation.status}")
        if evaluation.status in (Status.QUEUED, Status.RUNNING):
            self.stdout.write("No result in time: the gate is still running.")
            return ERROR
        results = evaluation.results and EvaluationResults.from_json(evaluation.results)
        if results:
            self._checks(results)
        if evaluation.error:
            self.stdout.write(f"Error: {evaluation.error}")
        compared = results and results.interval.lower is not None
        if evaluation.status != Status.DONE or not results or (results.errors and not compared):
            self.stdout.write("Gate: error (nothing could be compared)")
            return ERROR
        self.stdout.write(f"Gate: {evaluation.gate}")
        self.stdout.write(f"Read it: {settings.SITE_URL}/api/v1/evaluations/{evaluation.pk}")
        return PASSED if evaluation.gate == "passed" else FAILED

    def _checks(self, results: EvaluationResults) -> None:
        rates = {(c.label, c.arm): c.rate for c in results.checks}
        self.stdout.write("control  variant  check")
        for label in dict.fromkeys(label for label, _ in rates):
            control, variant = rates.get((label, "control")), rates.get((label, "variant"))
            self.stdout.write(f"  {_percent(control)}    {_percent(variant)}  {label}")
        interval = results.interval
        overall = (
            f"Overall: control {_percent(results.overall_rate('control')).strip()}, variant "
            f"{_percent(results.overall_rate('variant')).strip()}"
        )
        if interval.lower is not None:
            overall += f" (difference {interval.lower * 100:+.0f} to {interval.upper * 100:+.0f}"
            overall += f" points, margin {results.margin * 100:.0f})"
        self.stdout.write(overall)
        if results.errors:
            self.stdout.write(f"{results.errors} simulated calls could not be played (errors).")


def _worker_answers() -> bool:
    from config.celery import app

    if app.conf.task_always_eager or not settings.REDIS_URL:
        return False
    try:
        return bool(app.control.inspect(timeout=1.0).ping())
    except Exception:  # the broker is away: nobody will take the task
        return False
