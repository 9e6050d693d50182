"""Per-status counts under an error type or a failure group read one index range each.

Built CONCURRENTLY: at millions of runs an ordinary build would block the engine's writes
to durable_run for as long as it takes. Both are partial (failed runs only), so the engine
touches them only when a run fails.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("durable", "0031_run_queue_status_index"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="run",
            index=models.Index(
                condition=models.Q(("error_type", ""), _negated=True),
                fields=["error_type", "status", "-created_at", "-id"],
                name="run_error_type_status_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="run",
            index=models.Index(
                condition=models.Q(("error_fingerprint", ""), _negated=True),
                fields=["error_fingerprint", "status", "-created_at", "-id"],
                name="run_fingerprint_status_idx",
            ),
        ),
    ]
