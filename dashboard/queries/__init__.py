"""Every read the dashboard makes, one module per page; all aggregation happens in SQL."""
