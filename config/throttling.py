"""How django-axes names the account a failed log-in was for."""

from __future__ import annotations

from django.http import HttpRequest

# axes keeps the name in a 255-character column; a longer one must not turn a wrong
# password into a server error
MAX_USERNAME_CHARS = 255


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The user name tried (from the credentials, else the form), cut to what axes stores."""
    source = credentials if credentials else getattr(request, "POST", {})
    username = source.get("username")
    return username[:MAX_USERNAME_CHARS] if isinstance(username, str) else None
