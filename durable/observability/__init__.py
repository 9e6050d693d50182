"""Seeing what runs do: logs tagged with the run and step (`logs`), OpenTelemetry traces
(`tracing`), Prometheus metrics and `/health` (`urls`), failure fingerprints and the
failure-group alert signal (`alerts`).

Public modules: `logs`, `tracing`, `alerts`, `urls`; the rest is internal.
"""
