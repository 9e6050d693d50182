"""Without the [otel] and [metrics] extras the engine runs as before: tracing is a no-op and
/metrics says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_EXTRAS = """
import sys
sys.modules["opentelemetry"] = None  # as if not installed: every import of it fails
sys.modules["prometheus_client"] = None
import django
django.setup()
from durable.observability import _metrics as metrics
from durable.observability import _observe as observe
from durable.observability import tracing
assert not tracing.active()
with observe.run("r", "wf", "v", "ex"), observe.attempt("step", 0, 1):
    assert observe.cpu_ms() >= 0
try:
    metrics.exposition()
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_without_the_extras_tracing_is_a_no_op_and_metrics_say_what_to_install():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ImproperlyConfigured" in result.stdout
    assert "pip install 'django-durable-runs[metrics]'" in result.stdout
