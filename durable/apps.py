from django.apps import AppConfig


class DurableConfig(AppConfig):
    name = "durable"
    verbose_name = "Durable engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the system checks, and the engine's timed duties, which executors run
        without importing them."""
        from durable import (
            checks,  # noqa: F401  (registers the system checks)
            duties,
            retention,
            ticker,
        )

        duties.register(duties.Duty("schedules", ticker.fire_due))
        # thread executors prune hourly; on Celery, run `manage.py durable prune` from cron
        duties.register(duties.Duty("prune", retention.prune_expired, 3600, kinds=("thread",)))
        from durable import logs

        logs.install("durable")  # engine log lines carry run, workflow, step and attempt
