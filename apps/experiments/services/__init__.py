"""The experiment's lifecycle: create, fork, weights, start, stop, apply.

Pages and the API call these same functions. Each refuses bad input with a ValidationError
a person can read and, because each runs in one transaction, writes nothing when it refuses.
`user` is whoever acts: a person, or a string naming an API key or a job.
"""

from apps.experiments.services.lifecycle import (
    experiment_create,
    experiment_start,
    experiment_stop,
    winner_apply,
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
    "experiment_create",
    "experiment_start",
    "experiment_stop",
    "variant_fork",
    "variant_pause",
    "variant_resume",
    "variant_update",
    "variant_update_prompt",
    "weights_set",
    "winner_apply",
]
