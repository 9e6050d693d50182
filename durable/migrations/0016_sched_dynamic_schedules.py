"""Dynamic schedules: a schedule has a name of its own (the workflow's, for a code schedule),
a source, an optional input and queue, a paused flag and a revision."""

import django.db.models.functions.datetime
from django.db import migrations, models

import durable.models.fields


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0015_messaging_streams"),
    ]

    operations = [
        migrations.RenameField(model_name="schedule", old_name="workflow", new_name="name"),
        migrations.AddField(
            model_name="schedule",
            name="workflow",
            field=models.CharField(default="", max_length=300),
            preserve_default=False,
        ),
        # every schedule so far was declared in code, named after its workflow
        migrations.RunSQL("UPDATE durable_schedule SET workflow = name", migrations.RunSQL.noop),
        migrations.AddField(
            model_name="schedule",
            name="source",
            field=models.CharField(
                choices=[("code", "Code"), ("api", "API")], db_default="code", max_length=4
            ),
        ),
        migrations.AlterField(
            model_name="schedule",
            name="missed_policy",
            field=models.CharField(
                choices=[
                    ("latest", "Run the newest missed tick"),
                    ("all", "Run every missed tick (the newest 100)"),
                    ("skip", "Run no missed tick"),
                ],
                default="latest",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="schedule",
            name="input",
            field=durable.models.fields.JSONTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="schedule",
            name="queue",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="schedule",
            name="paused",
            field=models.BooleanField(db_default=False),
        ),
        migrations.AddField(
            model_name="schedule",
            name="revision",
            field=models.IntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name="schedule",
            name="created_at",
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.AddConstraint(
            model_name="schedule",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", ["code", "api"])), name="schedule_source_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="schedule",
            constraint=models.CheckConstraint(
                condition=models.Q(("missed_policy__in", ["latest", "all", "skip"])),
                name="schedule_missed_policy_valid",
            ),
        ),
    ]
