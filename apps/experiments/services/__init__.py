"""The experiment's lifecycle: create, fork, weights, start, stop, apply.

Pages and the API call these same functions. Each refuses bad input with a ValidationError
a person can read and, because each runs in one transaction, writes nothing when it refuses.
`user` is whoever acts: a person, or a string naming an API key or a job.
"""

from apps.experiments.services.drafts import (
    even_weights,
    experiment_delete,
    experiment_start_with_weights,
    experiment_update,
    variant_add,
    variant_remove,
)
from apps.experiments.services.lifecycle import (
    experiment_create,
    experiment_segments_keep,
    experiment_start,
    experiment_stop,
    winner_apply,
)
from apps.experiments.services.ramp import experiment_ramp_step, ramp_lines
from apps.experiments.services.requests import (
    apply_request_create,
    apply_request_decline,
    apply_request_declined,
    apply_request_pending,
    apply_requests_close,
    apply_requests_pending,
)
from apps.experiments.services.traffic import variant_pause, variant_resume, weights_set
from apps.experiments.services.variants import (
    VARIANT_KEYS,
    variant_fork,
    variant_update,
    variant_update_prompt,
)

__all__ = [
    "VARIANT_KEYS",
    "apply_request_create",
    "apply_request_decline",
    "apply_request_declined",
    "apply_request_pending",
    "apply_requests_close",
    "apply_requests_pending",
    "even_weights",
    "experiment_create",
    "experiment_delete",
    "experiment_ramp_step",
    "experiment_segments_keep",
    "experiment_start",
    "experiment_start_with_weights",
    "experiment_stop",
    "experiment_update",
    "ramp_lines",
    "variant_add",
    "variant_fork",
    "variant_pause",
    "variant_remove",
    "variant_resume",
    "variant_update",
    "variant_update_prompt",
    "weights_set",
    "winner_apply",
]
