from django.apps import AppConfig


class DurableConfig(AppConfig):
    name = "durable"
    verbose_name = "Durable engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks, and the engine's timed duties, which executors run
        without importing them."""
        from durable import executors, queues
        from durable.core import _checks as checks  # noqa: F401  (registers the system checks)
        from durable.core import _creation as creation
        from durable.core import _dispatch as dispatching
        from durable.executors import duties
        from durable.operations import _job_workflow  # noqa: F401  (registers durable.bulk_job)
        from durable.operations import _partitioning as partitioning
        from durable.operations import _retention as retention
        from durable.schedules import _ticker as ticker

        dispatching.register(executors)  # the layers below executors dispatch through it
        creation.store_declared_queues_with(queues.ensure_stored)  # the core is told, too
        duties.register(duties.Duty("schedules", ticker.fire_due))
        # thread executors prune hourly; on Celery, run `manage.py durable prune` from cron
        from durable.observability import alerting

        duties.register(duties.Duty("alerts", alerting.run_duty, 5.0))
        duties.register(duties.Duty("prune alerts", alerting.prune_deliveries, 3600))
        duties.register(duties.Duty("prune", retention.prune_expired, 3600, kinds=("thread",)))
        # every executor keeps the history's partitions made ahead (docs/partitioning.md)
        duties.register(duties.Duty("partitions", partitioning.create_ahead, 3600))
        from durable.observability import logs

        logs.install("durable")  # engine log lines carry run, workflow, step and attempt
        from durable.core.conf import settings

        if settings.DURABLE_EXECUTOR == "celery":
            # the tasks live below the app's top level, where Celery's autodiscovery
            # does not look: register them here, so a host's Celery app needs no extra line
            import durable.executors.tasks  # noqa: F401
