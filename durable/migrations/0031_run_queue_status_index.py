"""The runs list's per-status counts under a queue filter read one index range each.

Built CONCURRENTLY: at millions of runs an ordinary build would block the engine's writes
to durable_run for as long as it takes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("durable", "0030_step_log_message_trigram_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="run",
            index=models.Index(
                fields=["queue", "status", "-created_at", "-id"], name="run_queue_status_idx"
            ),
        ),
    ]
