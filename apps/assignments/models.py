from django.db import models

from apps.experiments.models import Experiment, Variant


class Exposure(models.Model):
    """How many assignments each variant received in one phase of the split.

    A phase is one `weights_version` of the experiment: counts from before a slider moved are
    not compared with the new weights. Counted in memory and flushed every few seconds.
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="exposures")
    phase = models.PositiveIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "phase"], name="exposure_variant_phase")
        ]

    def __str__(self):
        return f"{self.variant} phase {self.phase}: {self.count}"
