"""`python manage.py rollup_latency`: backfill the hourly latency histograms in one go.

The latency page rolls up at most a week of missing hours per view; run this after an
import or a long pause so 7- and 30-day windows are complete at once.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard import rollups


class Command(BaseCommand):
    help = "Roll up every complete hour of step and run latency not rolled up yet."

    def handle(self, *args, **options) -> None:
        hours = rollups.refresh(max_hours=None)
        self.stdout.write(f"rolled up {hours} hour(s) of latency")
