"""Rehearsal services: pages, the API, commands and tasks import from here.

scenarios (create, update, delete, from a call, JSONL), evaluations (start, freshness),
runs (the task body), play (one conversation and its checks), gate (rehearse a variant,
a manager's override, the agent's margin).
"""

from apps.rehearsals.services.ci import prompt_evaluate
from apps.rehearsals.services.evaluations import (
    evaluation_for,
    evaluation_freshness,
    evaluation_start,
)
from apps.rehearsals.services.gate import (
    experiment_gate_override,
    experiment_rehearse,
    rehearsal_margin_set,
)
from apps.rehearsals.services.runs import evaluation_run
from apps.rehearsals.services.scenarios import (
    scenario_create,
    scenario_delete,
    scenario_from_call,
    scenario_update,
    scenarios_export_jsonl,
    scenarios_import_jsonl,
)

__all__ = [
    "evaluation_for",
    "evaluation_freshness",
    "evaluation_run",
    "evaluation_start",
    "experiment_gate_override",
    "experiment_rehearse",
    "prompt_evaluate",
    "rehearsal_margin_set",
    "scenario_create",
    "scenario_delete",
    "scenario_from_call",
    "scenario_update",
    "scenarios_export_jsonl",
    "scenarios_import_jsonl",
]
