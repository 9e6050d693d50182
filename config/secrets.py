"""The secret key: from the environment in production, a stored local key in development.

Django signs sessions, CSRF tokens and password-reset links with SECRET_KEY. A public
fallback key would let anyone forge them, so with DEBUG off and no SECRET_KEY the project
refuses to start; with DEBUG on (the demo, the tests) a random key is generated once and
kept in the data folder, so logins survive restarts and nothing secret is in the code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MISSING_KEY = (
    "SECRET_KEY is not set and DEBUG is off. Set SECRET_KEY to a long random value "
    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 "
    "for local development only. See docs/security.md."
)


def secret_key(debug: bool, data_dir: Path) -> str:
    """SECRET_KEY from the environment; in DEBUG, a local key stored in `data_dir`."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if not debug:
        raise ImproperlyConfigured(MISSING_KEY)
    return _local_dev_key(data_dir / "dev-secret-key")


def _local_dev_key(path: Path) -> str:
    """Read the stored key, or create it; two processes starting at once agree on one key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)  # atomic: the first writer wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
