"""Benchmarks: Durable against PostgreSQL's commit floor and against DBOS (`bench/run.py`)."""
