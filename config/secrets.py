"""The secret key: from the environment in a deployment, a stored local key in development.

Django signs sessions, CSRF tokens and password-reset links with SECRET_KEY. A public
fallback key would let anyone forge them, so a deployment (DATABASE_URL set, or DEBUG
explicitly off) with no SECRET_KEY refuses to start. Development — DEBUG on, or this
checkout on its own embedded database with DEBUG left unset — gets a random key generated
once and kept in the data folder, so logins survive restarts and nothing secret is in the
code.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MISSING_KEY = (
    "SECRET_KEY is not set and DEBUG is off, in a deployment (DATABASE_URL is set, or "
    "DEBUG=0). Set SECRET_KEY to a long random value "
    "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 "
    "for local development only. See docs/security.md."
)


def secret_key(development: bool, data_dir: Path) -> str:
    """SECRET_KEY from the environment; in development, a local key stored in `data_dir`."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if not development:
        raise ImproperlyConfigured(MISSING_KEY)
    return _local_dev_key(data_dir / "dev-secret-key")


def is_development(environ: dict[str, str] | None = None) -> bool:
    """DEBUG on, or DEBUG unset with no DATABASE_URL: the checkout's own embedded database,
    which only ever serves this machine. DEBUG=0 or a DATABASE_URL means a deployment."""
    environ = os.environ if environ is None else environ
    debug = environ.get("DEBUG")
    if debug is not None:
        return debug.strip().lower() in {"1", "true", "yes", "on"}
    return not environ.get("DATABASE_URL")


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
