"""Django database backend for the embedded PostgreSQL: PostgreSQL's, started on connect."""
