from django.db import migrations, models


def one_phase_for_started(apps, schema_editor):
    """Experiments started before phases were kept: one phase from the start with today's
    split (their earlier split changes were not timed; they are analysed pooled, as before)."""
    Experiment = apps.get_model("experiments", "Experiment")
    for experiment in Experiment.objects.filter(started_at__isnull=False).iterator():
        weights = {str(v.id): v.weight for v in experiment.variants.all()}
        experiment.phases = [
            {
                "number": experiment.weights_version,
                "started_at": experiment.started_at.isoformat(),
                "weights": weights,
            }
        ]
        experiment.save(update_fields=["phases"])


class Migration(migrations.Migration):
    dependencies = [("experiments", "0007_scale_help_texts")]

    operations = [
        migrations.AddField(
            model_name="experiment",
            name="phases",
            field=models.JSONField(
                blank=True,
                default=list,
                editable=False,
                help_text="Each period of one traffic split while running: [{number, started_at, "
                "weights: {variant id: percent}}], oldest first. Results are analysed per phase "
                "and combined, so a split change cannot make one variant look better.",
            ),
        ),
        migrations.RunPython(one_phase_for_started, migrations.RunPython.noop),
    ]
