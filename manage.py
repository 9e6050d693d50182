#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys

# The quick start (`manage.py durable demo`) is a local development server: it runs with
# DEBUG on unless told otherwise. Everything else defaults to production-safe settings.
DEVELOPMENT_COMMANDS = (["durable", "demo"],)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:3] in DEVELOPMENT_COMMANDS:
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
