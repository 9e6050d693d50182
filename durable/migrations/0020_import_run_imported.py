from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0019_run_timeout_seconds"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="imported",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
