"""Seeing what runs do: logs tagged with the run and step (`logs`), OpenTelemetry traces
(`tracing`), Prometheus metrics and `/health` (`urls`), failure fingerprints and the
failure-group alert signal (`alerts`), alert rules with delivery and failure-group triage
(`alerting`), and the read API the dashboard and other readers outside the engine use
(`inspection`: time split, health, stranded runs, parameters).

Public modules: `logs`, `tracing`, `alerts`, `alerting`, `urls`, `inspection`; the rest is
internal.
"""
