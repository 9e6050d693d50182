"""Defaults have one home (durable/core/conf.py), one table documents them, and this project's
settings only override from the environment."""

from __future__ import annotations

from pathlib import Path

import config.settings
from config.environment import durable_settings_from_environment
from durable.core._conf_doc import END, START, documented_settings, settings_table
from durable.core.conf import DEFAULTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_doc_is_the_table_made_from_the_defaults():
    text = DOC.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == settings_table(), (
        "run `python -m durable.core._conf_doc` to update docs/settings.md"
    )


def test_every_setting_has_a_default_and_a_meaning():
    rows = documented_settings()
    assert [name for name, _, _ in rows] == list(DEFAULTS)
    assert all(meaning for _, _, meaning in rows)


def test_readme_links_the_settings_table():
    assert "docs/settings.md" in (DOC.parents[1] / "README.md").read_text()


def test_environment_sets_only_the_variables_present():
    found = durable_settings_from_environment(
        {"DURABLE_THREADS": "4", "DURABLE_MODULES": "a.b, c", "DURABLE_WORKER_SWEEPS": "0",
         "DURABLE_LEASE_SECONDS": "12.5", "DURABLE_EXECUTOR": "celery", "HOME": "/root"}
    )  # fmt: skip
    assert found == {
        "DURABLE_THREADS": 4, "DURABLE_MODULES": ["a.b", "c"], "DURABLE_WORKER_SWEEPS": False,
        "DURABLE_LEASE_SECONDS": 12.5, "DURABLE_EXECUTOR": "celery",
    }  # fmt: skip


def test_project_settings_leave_unset_variables_to_the_engine_defaults():
    defined = {name for name in vars(config.settings) if name.startswith("DURABLE_")}
    from_environment = set(durable_settings_from_environment())
    # this repository's own choices: its demo workload, and /metrics served
    assert defined - from_environment == {"DURABLE_DEMO_WORKLOAD", "DURABLE_METRICS_ENABLED"}
