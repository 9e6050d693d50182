"""Thin views, one module per page: parse with a form, call a query or an operation, render."""
