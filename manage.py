#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys

# The quick start (`manage.py durable demo`) is a local development server, and
# `embedded_db` manages its private database: they run with DEBUG on unless told otherwise.
# Everything else defaults to production-safe settings.
DEVELOPMENT_COMMANDS = (("durable", "demo"), ("embedded_db",))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if any(tuple(sys.argv[1 : 1 + len(words)]) == words for words in DEVELOPMENT_COMMANDS):
        os.environ.setdefault("DEBUG", "1")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings: a missing key is one line)
    except ImproperlyConfigured as problem:
        raise SystemExit(f"manage.py: {problem}") from None
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
