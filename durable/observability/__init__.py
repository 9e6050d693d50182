"""Seeing what runs do: logs tagged with the run and step (`logs`), OpenTelemetry traces
(`tracing`), Prometheus metrics and `/health` (`urls`), failure fingerprints and the
failure-group alert signal (`alerts`), and alert rules with delivery and failure-group
triage (`alerting`).

Public modules: `logs`, `tracing`, `alerts`, `alerting`, `urls`; the rest is internal.
"""
