"""Tools for finding why a run failed: export/import, local replay, patched forks,
replay previews and run comparison. The CLI and the dashboard are thin layers over these."""
