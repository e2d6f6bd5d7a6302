"""Rehearsals (issue 14): simulated calls that compare a variant with its control before real
callers meet it.

Imports agents, experiments (models), calls, judging, stats, audit, outbox; nothing below
imports rehearsals.

Models (apps.rehearsals.models)
    Scenario      agent, name (unique per agent), persona, goal, facts {str: str}, max_turns
                  (2-60, both sides' turns), checks [{kind: judge, criterion} | {kind: fact,
                  value} | {kind: forbidden, text}], replay_turns [str] (empty = a model plays
                  the caller), source_call, content_sha256 (what the cache keys on).
    Evaluation    agent, experiment?, variant_prompt/control_prompt (PromptVersion) with
                  variant_sha256/control_sha256 and variant_config/control_config snapshots,
                  scenario_ids, plays, margin (share: 0.05 = 5 points), status (queued |
                  running | done | failed | stopped), gate (passed | failed | running),
                  cost_usd, cost_cap_usd, error, results (EvaluationResults.to_json()),
                  started_at, finished_at.
    Conversation  evaluation, scenario, arm (control | variant), play, transcript, outcomes
                  [{label, kind, outcome: pass|fail|error, note}], overall, failing_turns,
                  tokens and cost_usd (the simulation's and the judge checks'), error (set =
                  not played: never a fail), reused, cache_key.

Services (apps.rehearsals.services; keyword-only, transactional, audited)
    scenario_create(*, agent, data, user)            data as the API's POST body
    scenario_update(*, scenario, data, user)         only the given fields
    scenario_delete(*, scenario, user)
    scenario_from_call(*, call, user)                the "make a scenario from this call" button
    scenarios_import_jsonl(*, agent, text, user)     all or nothing; "Line N: ..." errors
    scenarios_export_jsonl(*, agent) -> str
    evaluation_start(*, agent, variant_prompt, variant_config, control_prompt, control_config,
                     user, experiment=None, plays=3, margin=0.05, cost_cap_usd=None)
        -> Evaluation (queued; "rehearsals.run" goes through the outbox after commit). Pass
           the effective configs (agent config + variant overrides): "model" and
           "temperature" are what the simulated agent runs with.
    evaluation_run(*, evaluation)                    the task body; idempotent, resumable
    evaluation_freshness(*, agent, variant_sha256, variant_config, control_sha256,
                         control_config, experiment=None) -> ("missing" | "stale" | "current",
                         Evaluation | None)          what the start gate asks
    evaluation_for(...)                              the latest evaluation of exactly those

Reading results: EvaluationResults.from_json(evaluation.results) (apps.rehearsals.outcomes):
.gate, .interval (PairedInterval: scenarios, mean, lower, upper, sign_flip_p), .scenarios
(per-scenario shares side by side), .checks (per check and arm), .overall_rate(arm).
The failing turns of a conversation are Conversation.failing_turns (indexes in transcript).

Settings: SIMULATION_BASE_URL / _MODEL / _API_KEY / _TIMEOUT_SECONDS (default to JUDGE_*),
SIMULATION_CALLER_MODEL, SIMULATION_CONCURRENCY (4), SIMULATION_SLOT_WAIT_SECONDS,
SIMULATION_COST_CAP_USD (5), SIMULATION_USD_PER_MILLION_INPUT_TOKENS / _OUTPUT_TOKENS (the
judge checks' tokens are priced the same), SIMULATION_RETRIES (3 tries per request) within
SIMULATION_RETRY_SECONDS (30).
"""
