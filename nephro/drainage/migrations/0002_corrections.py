import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("drainage", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="drainageanalysis",
            name="corrects",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="corrections",
                to="drainage.drainageanalysis",
            ),
        ),
        migrations.AddField(
            model_name="drainageanalysis",
            name="outlines",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="drainageanalysis",
            name="corrected_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="drainageanalysis",
            name="correction_reason",
            field=models.TextField(blank=True),
        ),
    ]
